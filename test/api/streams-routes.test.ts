import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createHttpServer } from '../../src/api/http-server.js';
import { MetricsRegistry } from '../../src/api/metrics.js';
import type { LiveCall, LiveCalls } from '../../src/api/streams-routes.js';
import { PgliteStore } from '../../src/store/pglite-store.js';
import type { Account } from '../../src/store/store-types.js';
import { newSid } from '../../src/ids.js';
import type { StreamHandle } from '../../src/verbs/call-control.js';
import type { StartVerb, StreamNoun } from '../../src/verbs/verb-model.js';
import { readTwiml } from '../../src/verbs/twiml-reader.js';

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const RFC_2822 = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} \+0000$/;

type StreamEnd = Awaited<StreamHandle['ended']>;

/** A live call that records what the API asked of it and keeps its streams like a Call would. */
class FakeCall implements LiveCall {
  ended = false;
  readonly starts: { stream: StreamNoun; bidirectional: boolean }[] = [];
  readonly stops: string[] = [];
  readonly running = new Map<string, { name: string | null; end: (e: StreamEnd) => void }>();
  /** Thrown by the next startStream (a limit error, the call ending...). */
  failNext: Error | null = null;
  /** The call ends while the next startStream is answering it. */
  endWhileStarting = false;

  constructor(readonly info: { sid: string; accountSid: string }) {}

  async startStream(stream: StreamNoun, bidirectional: boolean): Promise<StreamHandle> {
    this.starts.push({ stream, bidirectional });
    await Promise.resolve(); // a real call answers first
    if (this.endWhileStarting) this.ended = true;
    const err = this.failNext;
    this.failNext = null;
    if (err) throw err;
    const sid = newSid('MZ');
    let end!: (e: StreamEnd) => void;
    const ended = new Promise<StreamEnd>((resolve) => (end = resolve));
    this.running.set(sid, { name: stream.name, end });
    return { sid, name: stream.name, ended };
  }

  stopStream(nameOrSid: string): boolean {
    this.stops.push(nameOrSid);
    for (const [sid, s] of this.running) {
      if (sid === nameOrSid || s.name === nameOrSid) {
        this.running.delete(sid);
        s.end({ reason: 'stopped' });
        return true;
      }
    }
    return false;
  }
}

class FakeCalls implements LiveCalls {
  readonly calls = new Map<string, FakeCall>();
  add(accountSid: string): FakeCall {
    const call = new FakeCall({ sid: newSid('CA'), accountSid });
    this.calls.set(call.info.sid, call);
    return call;
  }
  get(callSid: string): FakeCall | undefined {
    return this.calls.get(callSid);
  }
}

function codedError(code: number, message: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('REST Media Streams', () => {
  let dir: string;
  let store: PgliteStore;
  let app: FastifyInstance;
  let alice: Account;
  let bob: Account;
  const live = new FakeCalls();
  let call: FakeCall;
  const asAlice = { authorization: basic('', '') };
  const asBob = { authorization: basic('', '') };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'patchbay-streams-api-'));
    store = await PgliteStore.open(join(dir, 'db'));
    alice = (await store.ensureAccount({ sid: newSid('AC'), authToken: 'alice-secret' })).account;
    bob = (await store.ensureAccount({ sid: newSid('AC'), authToken: 'bob-secret' })).account;
    asAlice.authorization = basic(alice.sid, 'alice-secret');
    asBob.authorization = basic(bob.sid, 'bob-secret');
    app = createHttpServer({ store, accountSid: alice.sid, isReady: () => true, metrics: () => '', registry: new MetricsRegistry(), liveCalls: live });
    await app.ready();
  });

  after(async () => {
    await app?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    call = live.add(alice.sid);
  });

  const startNative = (callSid: string, body: unknown, headers: Record<string, string> = asAlice) =>
    app.inject({ method: 'POST', url: `/v1/calls/${callSid}/streams`, headers: { ...headers, 'content-type': 'application/json' }, payload: JSON.stringify(body) });
  const twilioBase = (accountSid: string, callSid: string) => `/2010-04-01/Accounts/${accountSid}/Calls/${callSid}/Streams`;
  const postForm = (url: string, form: Record<string, string> | [string, string][], headers: Record<string, string> = asAlice) =>
    app.inject({ method: 'POST', url, headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams(form).toString() });

  describe('native /v1', () => {
    it('starts a fork with the <Stream> defaults and answers 201 with its SID', async () => {
      const res = await startNative(call.info.sid, { url: 'wss://agent.example.com/audio', name: 'agent', parameters: { persona: 'echo', tier: 2 } });
      assert.equal(res.statusCode, 201, res.body);
      const body = res.json();
      assert.match(body.sid, /^MZ[0-9a-f]{32}$/);
      assert.deepEqual(body, { sid: body.sid, callSid: call.info.sid, name: 'agent', status: 'in-progress' });
      assert.equal(call.starts.length, 1);
      assert.equal(call.starts[0]!.bidirectional, false, 'REST streams are forks');
      assert.deepEqual(call.starts[0]!.stream, {
        url: 'wss://agent.example.com/audio', name: 'agent', track: 'inbound_track', statusCallback: null, statusCallbackMethod: 'POST',
        parameters: [['persona', 'echo'], ['tier', '2']], format: 'twilio', sampleRate: 8000, speechEvents: false, clearOnSpeech: false,
      });
    });

    it('reads every field as the TwiML <Stream> does (same StreamNoun)', async () => {
      const res = await startNative(call.info.sid, {
        url: 'ws://127.0.0.1:9/x', name: 'wide', track: 'both_tracks', statusCallback: 'https://app.example.com/s', statusCallbackMethod: 'get',
        parameters: [{ name: 'a', value: '1' }, { name: 'b', value: 'two' }], format: 'l16', sampleRate: 16000, speechEvents: true,
      });
      assert.equal(res.statusCode, 201, res.body);
      const twiml = readTwiml(`<Response><Start><Stream url="ws://127.0.0.1:9/x" name="wide" track="both_tracks" statusCallback="https://app.example.com/s" statusCallbackMethod="get" format="l16" sampleRate="16000" speechEvents="true"><Parameter name="a" value="1"/><Parameter name="b" value="two"/></Stream></Start></Response>`);
      assert.deepEqual(call.starts[0]!.stream, (twiml.verbs[0] as StartVerb).streams[0]);
      assert.equal(res.json().name, 'wide');
    });

    it('refuses bad input with 400/20001 naming the field, and starts nothing', async () => {
      const cases: [unknown, RegExp][] = [
        [{}, /^url is required$/],
        [{ url: 'https://agent.example.com/' }, /^Invalid url: .*ws:\/\/ or wss:\/\//],
        [{ url: '/relative/path' }, /^Invalid url: .*absolute/],
        [{ url: 'wss://a.example.com/', track: 'sideways' }, /^Invalid track: track must be one of inbound_track, outbound_track, both_tracks/],
        [{ url: 'wss://a.example.com/', sampleRate: 16000 }, /^Invalid sampleRate: the twilio format is 8000 Hz/],
        [{ url: 'wss://a.example.com/', format: 'opus' }, /^Invalid format: /],
        [{ url: 'wss://a.example.com/', statusCallbackMethod: 'PUT' }, /^Invalid statusCallbackMethod: /],
        [{ url: 'wss://a.example.com/', statusCallback: 'ftp://x.example.com/' }, /^Invalid statusCallback: /],
        [{ url: 'wss://a.example.com/', statusCallback: '/status' }, /^Invalid statusCallback: .*absolute/],
        [{ url: 'wss://a.example.com/', parameters: { big: 'x'.repeat(600) } }, /^Invalid parameters\.big: parameter "big" is 603 characters/],
        [{ url: 'wss://a.example.com/', parameters: 'a=b' }, /^Invalid parameters: /],
        [{ url: 'wss://a.example.com/', clearOnSpeech: true }, /^Unknown field "clearOnSpeech"$/],
        [[1, 2], /JSON object/],
      ];
      for (const [body, message] of cases) {
        const res = await startNative(call.info.sid, body);
        assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
        const err = res.json();
        assert.equal(err.code, 20001);
        assert.match(err.message, message, JSON.stringify(body));
        assert.equal(err.moreInfo, 'https://www.twilio.com/docs/errors/20001');
      }
      assert.equal(call.starts.length, 0);
    });

    it("is a 404 for an unknown call, another account's call and an ended call, touching none", async () => {
      const bobs = live.add(bob.sid);
      const ended = live.add(alice.sid);
      ended.ended = true;
      for (const sid of [newSid('CA'), bobs.info.sid, ended.info.sid, 'not-a-sid']) {
        const res = await startNative(sid, { url: 'wss://a.example.com/' });
        assert.equal(res.statusCode, 404, res.body);
        assert.equal(res.json().code, 20404);
      }
      const del = await app.inject({ method: 'DELETE', url: `/v1/calls/${bobs.info.sid}/streams/anything`, headers: asAlice });
      assert.equal(del.statusCode, 404);
      assert.deepEqual([bobs.starts, bobs.stops, ended.starts], [[], [], []]);
      // Bob reaches his own call.
      assert.equal((await startNative(bobs.info.sid, { url: 'wss://a.example.com/' }, asBob)).statusCode, 201);
    });

    it('needs credentials', async () => {
      const res = await startNative(call.info.sid, { url: 'wss://a.example.com/' }, { authorization: basic(alice.sid, 'wrong') });
      assert.equal(res.statusCode, 401);
      assert.equal(call.starts.length, 0);
    });

    it('the stream limit (82004) is a 400 with its message; the call ending meanwhile is a 404; anything else a 500', async () => {
      call.failNext = codedError(82004, 'the call already has 4 streams');
      let res = await startNative(call.info.sid, { url: 'wss://a.example.com/' });
      assert.equal(res.statusCode, 400);
      assert.deepEqual([res.json().code, res.json().message], [82004, 'the call already has 4 streams']);

      // CallEndedError is an AbortError without a code.
      call.failNext = Object.assign(new Error(`call ${call.info.sid} has ended`), { name: 'AbortError' });
      res = await startNative(call.info.sid, { url: 'wss://a.example.com/' });
      assert.equal(res.statusCode, 404);

      // A limit error raised because the call is over says nothing about limits to the client.
      call.failNext = codedError(82004, 'the call has ended');
      call.endWhileStarting = true;
      res = await startNative(call.info.sid, { url: 'wss://a.example.com/' });
      assert.equal(res.statusCode, 404);
      assert.equal(call.starts.length, 3);

      const fresh = live.add(alice.sid);
      fresh.failNext = new Error('bug');
      res = await startNative(fresh.info.sid, { url: 'wss://a.example.com/' });
      assert.equal(res.statusCode, 500);
      assert.equal(res.json().code, 20500);
    });

    it('DELETE stops by name or SID (204) and is a 404 when no such stream runs', async () => {
      const a = (await startNative(call.info.sid, { url: 'wss://a.example.com/', name: 'a' })).json();
      const b = (await startNative(call.info.sid, { url: 'wss://a.example.com/' })).json();
      assert.equal(b.name, null);
      const byName = await app.inject({ method: 'DELETE', url: `/v1/calls/${call.info.sid}/streams/a`, headers: asAlice });
      assert.equal(byName.statusCode, 204);
      const bySid = await app.inject({ method: 'DELETE', url: `/v1/calls/${call.info.sid}/streams/${b.sid}`, headers: asAlice });
      assert.equal(bySid.statusCode, 204);
      const again = await app.inject({ method: 'DELETE', url: `/v1/calls/${call.info.sid}/streams/${a.sid}`, headers: asAlice });
      assert.equal(again.statusCode, 404);
      assert.equal(again.json().code, 20404);
      assert.deepEqual(call.stops, ['a', b.sid, a.sid]);
      assert.equal(call.running.size, 0);
    });
  });

  describe('Twilio /2010-04-01', () => {
    it('POST Streams.json starts a fork from form parameters and answers the snake_case Stream resource', async () => {
      const res = await postForm(`${twilioBase(alice.sid, call.info.sid)}.json`, [
        ['Url', 'wss://agent.example.com/twilio'], ['Name', 'tw'], ['Track', 'outbound_track'],
        ['StatusCallback', 'https://app.example.com/st'], ['StatusCallbackMethod', 'GET'],
        ['Parameter10.Name', 'tenth'], ['Parameter10.Value', '10'], ['Parameter2.Value', 'v2'], ['Parameter2.Name', 'second'], ['Parameter3.Name', 'empty'],
      ]);
      assert.equal(res.statusCode, 201, res.body);
      assert.match(res.headers['content-type'] as string, /^application\/json/);
      const body = res.json();
      assert.match(body.sid, /^MZ[0-9a-f]{32}$/);
      assert.match(body.date_updated, RFC_2822);
      assert.deepEqual(body, {
        sid: body.sid, account_sid: alice.sid, call_sid: call.info.sid, name: 'tw', status: 'in-progress', date_updated: body.date_updated,
        uri: `/2010-04-01/Accounts/${alice.sid}/Calls/${call.info.sid}/Streams/${body.sid}.json`,
      });
      const s = call.starts[0]!;
      assert.equal(s.bidirectional, false);
      assert.deepEqual(
        [s.stream.url, s.stream.name, s.stream.track, s.stream.statusCallback, s.stream.statusCallbackMethod, s.stream.format],
        ['wss://agent.example.com/twilio', 'tw', 'outbound_track', 'https://app.example.com/st', 'GET', 'twilio'],
      );
      // Numeric order, not the order sent; a name without a value is an empty value.
      assert.deepEqual(s.stream.parameters, [['second', 'v2'], ['empty', ''], ['tenth', '10']]);
    });

    it('refuses bad parameters with 400/20001 in Twilio spelling', async () => {
      const cases: [Record<string, string> | [string, string][], RegExp][] = [
        [{}, /^Url is required$/],
        [{ Url: 'wss://a.example.com/', Track: 'both' }, /^Invalid Track: /],
        [{ Url: 'http://a.example.com/' }, /^Invalid Url: /],
        [{ Url: 'wss://a.example.com/', StatusCallbackMethod: 'DELETE' }, /^Invalid StatusCallbackMethod: /],
        [{ Url: 'wss://a.example.com/', ConnectorName: 'x' }, /^Unknown parameter "ConnectorName"$/],
        [{ Url: 'wss://a.example.com/', 'Parameter100.Name': 'x' }, /^Unknown parameter "Parameter100.Name"$/],
        [{ Url: 'wss://a.example.com/', 'Parameter4.Value': 'orphan' }, /^Parameter4\.Name is required/],
        [{ Url: 'wss://a.example.com/', 'Parameter1.Name': 'n', 'Parameter1.Value': 'v'.repeat(500) }, /^Invalid Parameter1: /],
        [[['Url', 'wss://a.example.com/'], ['Url', 'wss://b.example.com/']], /^Url was given 2 times$/],
      ];
      for (const [form, message] of cases) {
        const res = await postForm(`${twilioBase(alice.sid, call.info.sid)}.json`, form);
        assert.equal(res.statusCode, 400, `${JSON.stringify(form)}: ${res.body}`);
        const err = res.json();
        assert.equal(err.code, 20001);
        assert.match(err.message, message, JSON.stringify(form));
        assert.equal(err.more_info, 'https://www.twilio.com/docs/errors/20001');
      }
      const asJson = await app.inject({
        method: 'POST', url: `${twilioBase(alice.sid, call.info.sid)}.json`, headers: { ...asAlice, 'content-type': 'application/json' }, payload: '{"Url":"wss://a.example.com/"}',
      });
      assert.equal(asJson.statusCode, 415);
      assert.equal(call.starts.length, 0);
    });

    it("is a 404 when the path names another account, or the call is another account's", async () => {
      const bobs = live.add(bob.sid);
      const wrongPath = await postForm(`${twilioBase(bob.sid, call.info.sid)}.json`, { Url: 'wss://a.example.com/' });
      assert.equal(wrongPath.statusCode, 404);
      assert.equal(wrongPath.json().code, 20404);
      assert.ok('more_info' in wrongPath.json());
      const otherCall = await postForm(`${twilioBase(alice.sid, bobs.info.sid)}.json`, { Url: 'wss://a.example.com/' });
      assert.equal(otherCall.statusCode, 404);
      const stop = await postForm(`${twilioBase(alice.sid, bobs.info.sid)}/x.json`, { Status: 'stopped' });
      assert.equal(stop.statusCode, 404);
      assert.deepEqual([call.starts, bobs.starts, bobs.stops], [[], [], []]);
    });

    it('the stream limit (82004) is a 400 with its message', async () => {
      call.failNext = codedError(82004, 'a stream named "tw" is already running');
      const res = await postForm(`${twilioBase(alice.sid, call.info.sid)}.json`, { Url: 'wss://a.example.com/', Name: 'tw' });
      assert.equal(res.statusCode, 400);
      assert.deepEqual([res.json().code, res.json().message], [82004, 'a stream named "tw" is already running']);
    });

    it('POST Streams/{Name or Sid}.json with Status=stopped stops it and answers 200 with status stopped', async () => {
      const started = (await postForm(`${twilioBase(alice.sid, call.info.sid)}.json`, { Url: 'wss://a.example.com/', Name: 'named' })).json();
      const res = await postForm(`${twilioBase(alice.sid, call.info.sid)}/named.json`, { Status: 'stopped' });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.match(body.date_updated, RFC_2822);
      assert.deepEqual(body, { ...started, status: 'stopped', date_updated: body.date_updated });

      const bySid = (await postForm(`${twilioBase(alice.sid, call.info.sid)}.json`, { Url: 'wss://a.example.com/' })).json();
      const res2 = await postForm(`${twilioBase(alice.sid, call.info.sid)}/${bySid.sid}.json`, { Status: 'stopped' });
      assert.equal(res2.statusCode, 200);
      assert.deepEqual([res2.json().sid, res2.json().name, res2.json().status], [bySid.sid, null, 'stopped']);
      assert.deepEqual(call.stops, ['named', bySid.sid]);

      const gone = await postForm(`${twilioBase(alice.sid, call.info.sid)}/named.json`, { Status: 'stopped' });
      assert.equal(gone.statusCode, 404);
      assert.equal(gone.json().code, 20404);
    });

    it('a stream this API did not start (TwiML) stops by name too; its SID is not known here', async () => {
      call.running.set(newSid('MZ'), { name: 'from-twiml', end: () => undefined });
      const res = await postForm(`${twilioBase(alice.sid, call.info.sid)}/from-twiml.json`, { Status: 'stopped' });
      assert.equal(res.statusCode, 200);
      assert.deepEqual([res.json().sid, res.json().name, res.json().status], [null, 'from-twiml', 'stopped']);
    });

    it('only Status=stopped is an update', async () => {
      await postForm(`${twilioBase(alice.sid, call.info.sid)}.json`, { Url: 'wss://a.example.com/', Name: 'keep' });
      const forms: Record<string, string>[] = [{}, { Status: 'in-progress' }, { Status: 'stopped', Url: 'wss://b.example.com/' }];
      for (const form of forms) {
        const res = await postForm(`${twilioBase(alice.sid, call.info.sid)}/keep.json`, form);
        assert.equal(res.statusCode, 400, JSON.stringify(form));
        assert.equal(res.json().code, 20001);
      }
      const noExt = await postForm(`${twilioBase(alice.sid, call.info.sid)}/keep`, { Status: 'stopped' });
      assert.equal(noExt.statusCode, 404);
      assert.deepEqual(call.stops, []);
    });
  });
});
