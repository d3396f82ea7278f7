import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { installErrorHandlers } from '../../src/api/api-errors.js';
import { twilioCallSchema } from '../../src/api/call-json.js';
import { twilioCallsRoutes } from '../../src/api/twilio-calls-routes.js';
import { CallRequestError } from '../../src/calls/call-service.js';
import { newSid } from '../../src/ids.js';
import { PgliteStore } from '../../src/store/pglite-store.js';
import type { Account, CallRecord } from '../../src/store/store-types.js';
import { FakeCallService } from './fake-call-service.js';

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const FORM = 'application/x-www-form-urlencoded';

function call(accountSid: string, fields: Partial<CallRecord>): CallRecord {
  return {
    sid: newSid('CA'), accountSid, from: '+15551110000', to: '+15550000001', direction: 'outbound-api', status: 'completed',
    startTime: '2024-01-01T10:00:00.000Z', answerTime: null, endTime: null, durationSeconds: null, sipCallId: null,
    sipResponseCode: null, errorCode: null, errorMessage: null, endReason: null, parentCallSid: null, ...fields,
  };
}

describe('Twilio Calls resource', () => {
  let dir: string;
  let store: PgliteStore;
  let app: FastifyInstance;
  let fake: FakeCallService;
  let alice: Account;
  let bob: Account;
  let c1: CallRecord, c2: CallRecord, c3: CallRecord, c4: CallRecord, bobCall: CallRecord;
  const asAlice = () => ({ authorization: basic(alice.sid, 'alice-secret') });
  const base = () => `/2010-04-01/Accounts/${alice.sid}`;
  const post = (path: string, body: string | [string, string][], headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: `${base()}${path}`, headers: { ...asAlice(), 'content-type': FORM, ...headers }, payload: typeof body === 'string' ? body : new URLSearchParams(body).toString() });
  const get = (path: string) => app.inject({ method: 'GET', url: `${base()}${path}`, headers: asAlice() });
  const listSids = async (query: string): Promise<string[]> => {
    const res = await get(`/Calls.json?${query}`);
    assert.equal(res.statusCode, 200, res.body);
    return (res.json() as { calls: { sid: string }[] }).calls.map((c) => c.sid);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'patchbay-twcalls-'));
    store = await PgliteStore.open(join(dir, 'db'));
    alice = (await store.ensureAccount({ sid: newSid('AC'), authToken: 'alice-secret' })).account;
    bob = (await store.ensureAccount({ sid: newSid('AC'), authToken: 'bob-secret' })).account;
    c1 = call(alice.sid, { startTime: '2024-01-01T10:00:00.000Z', answerTime: '2024-01-01T10:00:05.000Z', endTime: '2024-01-01T10:05:00.000Z', durationSeconds: 295 });
    c2 = call(alice.sid, { to: '+15550000002', startTime: '2024-01-02T23:59:59.000Z', endTime: '2024-01-03T00:00:30.000Z', durationSeconds: 31 });
    c3 = call(alice.sid, { to: 'sip:bob@example.com', from: 'alice', status: 'no-answer', direction: 'outbound-dial', startTime: '2024-01-03T12:00:00.000Z', endTime: '2024-01-03T12:01:00.000Z', parentCallSid: c1.sid });
    c4 = call(alice.sid, { status: 'ringing', direction: 'inbound', startTime: '2024-01-04T08:00:00.000Z' });
    bobCall = call(bob.sid, { startTime: '2024-01-01T11:00:00.000Z' });
    for (const c of [c1, c2, c3, c4, bobCall]) await store.createCall(c);
    fake = new FakeCallService(store);
    // c4 is live here and further along than its stored row says.
    fake.setLive({ ...c4, status: 'in-progress', answerTime: '2024-01-04T08:00:03.000Z' });
    app = Fastify({ logger: false });
    installErrorHandlers(app);
    await app.register(twilioCallsRoutes, { prefix: '/2010-04-01/Accounts/:AccountSid', store, calls: fake, publicBaseUrl: 'https://pb.example' });
    await app.ready();
  });
  after(async () => {
    await app?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('create', () => {
    it('answers 201 with every Call key, status queued and no start_time, and hands the engine the parsed request', async () => {
      const res = await post('/Calls.json', [
        ['To', 'sip:alice@127.0.0.1:5090'], ['From', '+15551234567'], ['Url', 'https://app.example/voice'], ['Method', 'get'],
        ['StatusCallback', 'https://app.example/status'], ['StatusCallbackEvent', 'initiated ringing'], ['StatusCallbackEvent', 'completed'],
        ['Timeout', '30'], ['TimeLimit', '600'], ['SendDigits', '1234#'], ['Record', 'false'],
      ]);
      assert.equal(res.statusCode, 201, res.body);
      const body = res.json() as Record<string, unknown>;
      assert.deepEqual(Object.keys(body).sort(), [...twilioCallSchema.required].sort());
      assert.equal(body.status, 'queued');
      assert.equal(body.start_time, null);
      assert.equal(body.duration, null);
      assert.equal(body.direction, 'outbound-api');
      assert.equal(body.api_version, '2010-04-01');
      assert.equal(body.to, 'sip:alice@127.0.0.1:5090');
      assert.equal(body.to_formatted, 'sip:alice@127.0.0.1:5090');
      assert.match(String(body.date_created), /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);
      assert.equal(body.uri, `${base()}/Calls/${String(body.sid)}.json`);
      assert.deepEqual(body.subresource_uris, { recordings: `${base()}/Calls/${String(body.sid)}/Recordings.json`, streams: `${base()}/Calls/${String(body.sid)}/Streams.json` });
      assert.deepEqual(fake.creates.at(-1), {
        accountSid: alice.sid,
        request: {
          to: 'sip:alice@127.0.0.1:5090', from: '+15551234567', url: 'https://app.example/voice', method: 'GET', statusCallback: 'https://app.example/status',
          statusCallbackEvent: ['initiated', 'ringing', 'completed'], timeout: 30, timeLimit: 600, sendDigits: '1234#',
        },
      });
      // Out of the way of the list tests: the call ends and its record is deleted.
      fake.liveCalls.delete(String(body.sid));
      await store.updateCall(String(body.sid), { status: 'canceled', endTime: '2024-03-01T10:00:01.000Z' });
      assert.equal(await store.deleteCall(alice.sid, String(body.sid)), true);
    });

    const refusals: [string, [string, string][], number, RegExp][] = [
      ['no To', [['From', '+1555'], ['Url', 'https://a.example/']], 21201, /To/],
      ['no From', [['To', '+1555'], ['Url', 'https://a.example/']], 21213, /From/],
      ['nothing to run', [['To', '+1555'], ['From', '+1666']], 21205, /Url, Twiml or ApplicationSid/],
      ['a relative Url', [['To', '+1555'], ['From', '+1666'], ['Url', '/voice']], 21205, /Invalid Url/],
      ['an ftp Url', [['To', '+1555'], ['From', '+1666'], ['Url', 'ftp://a.example/x']], 21205, /Invalid Url/],
      ['Method PUT', [['To', '+1555'], ['From', '+1666'], ['Url', 'https://a.example/'], ['Method', 'PUT']], 20001, /Invalid Method/],
      ['Timeout not a number', [['To', '+1555'], ['From', '+1666'], ['Twiml', '<Response/>'], ['Timeout', 'ten']], 20001, /Invalid Timeout/],
      ['TimeLimit fractional', [['To', '+1555'], ['From', '+1666'], ['Twiml', '<Response/>'], ['TimeLimit', '1.5']], 20001, /Invalid TimeLimit/],
      ['Record=true', [['To', '+1555'], ['From', '+1666'], ['Twiml', '<Response/>'], ['Record', 'true']], 20001, /Record is not supported/],
      ['MachineDetection', [['To', '+1555'], ['From', '+1666'], ['Twiml', '<Response/>'], ['MachineDetection', 'Enable']], 20001, /MachineDetection is not supported/],
      ['an unknown parameter', [['To', '+1555'], ['From', '+1666'], ['Twiml', '<Response/>'], ['Colour', 'red']], 20001, /Unknown parameter "Colour"/],
      ['a bad StatusCallbackEvent', [['To', '+1555'], ['From', '+1666'], ['Twiml', '<Response/>'], ['StatusCallbackEvent', 'answered hungup']], 20001, /hungup/],
      ['a malformed ApplicationSid', [['To', '+1555'], ['From', '+1666'], ['ApplicationSid', 'AP123']], 21218, /ApplicationSid/],
      ['To twice', [['To', '+1555'], ['To', '+1556'], ['From', '+1666'], ['Twiml', '<Response/>']], 20001, /To was given 2 times/],
    ];
    for (const [what, body, code, message] of refusals) {
      it(`refuses ${what} with ${code} before reaching the engine`, async () => {
        const before = fake.creates.length;
        const res = await post('/Calls.json', body);
        assert.equal(res.statusCode, 400, res.body);
        const err = res.json() as { code: number; message: string; more_info: string; status: number };
        assert.equal(err.code, code);
        assert.match(err.message, message);
        assert.equal(err.more_info, `https://www.twilio.com/docs/errors/${code}`);
        assert.equal(fake.creates.length, before);
      });
    }

    it('refuses a JSON body with 415', async () => {
      const res = await app.inject({ method: 'POST', url: `${base()}/Calls.json`, headers: { ...asAlice(), 'content-type': 'application/json' }, payload: JSON.stringify({ To: '+1' }) });
      assert.equal(res.statusCode, 415);
    });

    it("passes the engine's refusal on with its code and status", async () => {
      fake.refuse = new CallRequestError(21211, "Invalid 'To' Phone Number: nowhere", 400);
      const res = await post('/Calls.json', [['To', 'nowhere'], ['From', '+1666'], ['Twiml', '<Response><Hangup/></Response>']]);
      assert.equal(res.statusCode, 400);
      assert.equal((res.json() as { code: number }).code, 21211);
      assert.match((res.json() as { message: string }).message, /nowhere/);
    });

    it("answers 404 for another account's path", async () => {
      const res = await app.inject({ method: 'POST', url: `/2010-04-01/Accounts/${bob.sid}/Calls.json`, headers: { ...asAlice(), 'content-type': FORM }, payload: 'To=%2B1&From=%2B2&Twiml=x' });
      assert.equal(res.statusCode, 404);
    });
  });

  describe('list', () => {
    it('filters by To, From, ParentCallSid and Status, newest first, only the account’s calls', async () => {
      assert.deepEqual(await listSids(''), [c4.sid, c3.sid, c2.sid, c1.sid]);
      assert.deepEqual(await listSids('To=%2B15550000001'), [c4.sid, c1.sid]);
      assert.deepEqual(await listSids('From=alice'), [c3.sid]);
      assert.deepEqual(await listSids(`ParentCallSid=${c1.sid}`), [c3.sid]);
      assert.deepEqual(await listSids('Status=no-answer'), [c3.sid]);
    });

    it('reads StartTime/EndTime days and instants with Twilio’s inclusive comparisons', async () => {
      assert.deepEqual(await listSids('StartTime=2024-01-02'), [c2.sid]);
      // Written raw, `StartTime>=D` is the key `StartTime>`: on or after D.
      assert.deepEqual(await listSids('StartTime>=2024-01-03'), [c4.sid, c3.sid]);
      assert.deepEqual(await listSids('StartTime<=2024-01-02'), [c2.sid, c1.sid]);
      assert.deepEqual(await listSids('StartTime%3E%3D=2024-01-02&StartTime%3C%3D=2024-01-03'), [c3.sid, c2.sid]);
      assert.deepEqual(await listSids(`StartTime=${encodeURIComponent('Tue, 02 Jan 2024 23:59:59 +0000')}`), [c2.sid]);
      assert.deepEqual(await listSids(`StartTime%3E=${encodeURIComponent('2024-01-02T23:59:59Z')}`), [c4.sid, c3.sid, c2.sid]);
      // A call still going has no end time and never matches an EndTime filter.
      assert.deepEqual(await listSids('EndTime=2024-01-03'), [c3.sid, c2.sid]);
      assert.deepEqual(await listSids('EndTime<=2024-01-02'), [c1.sid]);
    });

    it('refuses a bad date, an unknown filter and an unknown status with 20001', async () => {
      for (const q of ['StartTime=2024-02-30', 'StartTime=yesterday', 'EndTime%3E=2024-01-01T10:00:00', 'Colour=red', 'Status=ringing-ish', 'ParentCallSid=CA1']) {
        const res = await get(`/Calls.json?${q}`);
        assert.equal(res.statusCode, 400, q);
        assert.equal((res.json() as { code: number }).code, 20001, q);
      }
    });

    it('pages with relative next_page_uri carrying the filters until the last page', async () => {
      const seen: string[] = [];
      let url: string | null = `${base()}/Calls.json?To=%2B15550000001&PageSize=1`;
      let pages = 0;
      while (url) {
        const res: Awaited<ReturnType<typeof app.inject>> = await app.inject({ method: 'GET', url, headers: asAlice() });
        assert.equal(res.statusCode, 200, res.body);
        const page = res.json() as { calls: { sid: string }[]; next_page_uri: string | null; page: number; page_size: number; start: number; end: number };
        assert.equal(page.page, pages);
        assert.equal(page.page_size, 1);
        assert.equal(page.start, pages);
        seen.push(...page.calls.map((c) => c.sid));
        if (page.next_page_uri) assert.match(page.next_page_uri, /^\/2010-04-01\/Accounts\/AC[0-9a-f]{32}\/Calls\.json\?To=%2B15550000001&/);
        url = page.next_page_uri;
        pages++;
      }
      assert.deepEqual(seen.filter((s) => s), [c4.sid, c1.sid]);
      assert.ok(pages >= 2);
    });

    it('shows a call live here with its live record, not the older stored row', async () => {
      const res = await get('/Calls.json?StartTime=2024-01-04');
      const [only] = (res.json() as { calls: Record<string, unknown>[] }).calls;
      assert.equal(only?.sid, c4.sid);
      assert.equal(only?.status, 'in-progress');
      assert.equal(only?.duration, null);
    });
  });

  describe('fetch', () => {
    it('returns the stored call as Twilio JSON', async () => {
      const res = await get(`/Calls/${c1.sid}.json`);
      assert.equal(res.statusCode, 200);
      const body = res.json() as Record<string, unknown>;
      assert.equal(body.status, 'completed');
      assert.equal(body.duration, '295');
      assert.equal(body.start_time, 'Mon, 01 Jan 2024 10:00:00 +0000');
      assert.equal(body.end_time, 'Mon, 01 Jan 2024 10:05:00 +0000');
      const child = (await get(`/Calls/${c3.sid}.json`)).json() as Record<string, unknown>;
      assert.equal(child.parent_call_sid, c1.sid);
      assert.equal(child.direction, 'outbound-dial');
      assert.equal(child.duration, '0');
    });

    it('returns a live call’s live record', async () => {
      assert.equal(((await get(`/Calls/${c4.sid}.json`)).json() as { status: string }).status, 'in-progress');
    });

    it("answers 404 for another account's call, an unknown SID, and another account's path", async () => {
      assert.equal((await get(`/Calls/${bobCall.sid}.json`)).statusCode, 404);
      assert.equal((await get(`/Calls/${newSid('CA')}.json`)).statusCode, 404);
      const res = await app.inject({ method: 'GET', url: `/2010-04-01/Accounts/${bob.sid}/Calls/${bobCall.sid}.json`, headers: asAlice() });
      assert.equal(res.statusCode, 404);
      assert.equal((res.json() as { code: number }).code, 20404);
    });
  });

  describe('update', () => {
    it('redirects a live call: the engine gets the parsed request', async () => {
      const res = await post(`/Calls/${c4.sid}.json`, [['Url', 'https://app.example/next'], ['Method', 'POST'], ['FallbackUrl', 'https://app.example/fb']]);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal((res.json() as { status: string }).status, 'in-progress');
      assert.deepEqual(fake.updates.at(-1), { accountSid: alice.sid, sid: c4.sid, request: { url: 'https://app.example/next', method: 'POST', fallbackUrl: 'https://app.example/fb' } });
    });

    it("refuses a bad Status, an unknown parameter, an empty update (20001) and a relative Url (21205); passes the engine's 21220 on", async () => {
      for (const body of ['Status=busy', 'Colour=red', '', 'Url=relative']) {
        const res = await post(`/Calls/${c4.sid}.json`, body);
        assert.equal(res.statusCode, 400, body);
        assert.equal((res.json() as { code: number }).code, body === 'Url=relative' ? 21205 : 20001, body);
      }
      const res = await post(`/Calls/${c4.sid}.json`, 'Status=canceled');
      assert.equal(res.statusCode, 400);
      assert.equal((res.json() as { code: number }).code, 21220);
    });

    it('answers 21220 with Twilio’s text for a call that has ended, 404 for an unknown or foreign one', async () => {
      const ended = await post(`/Calls/${c1.sid}.json`, 'Url=https%3A%2F%2Fapp.example%2Fx');
      assert.equal(ended.statusCode, 400);
      assert.deepEqual({ ...(ended.json() as object), more_info: undefined }, { code: 21220, message: 'Call is not in-progress. Cannot redirect.', status: 400, more_info: undefined });
      assert.equal((await post(`/Calls/${newSid('CA')}.json`, 'Status=completed')).statusCode, 404);
      assert.equal((await post(`/Calls/${bobCall.sid}.json`, 'Status=completed')).statusCode, 404);
    });
  });

  describe('delete', () => {
    it('refuses a live call with 20009, deletes an ended one (204, then 404), 404 for unknown', async () => {
      const live = await app.inject({ method: 'DELETE', url: `${base()}/Calls/${c4.sid}.json`, headers: asAlice() });
      assert.equal(live.statusCode, 400);
      assert.equal((live.json() as { code: number }).code, 20009);
      const gone = call(alice.sid, { startTime: '2023-06-01T00:00:00.000Z', endTime: '2023-06-01T00:01:00.000Z' });
      await store.createCall(gone);
      const del = await app.inject({ method: 'DELETE', url: `${base()}/Calls/${gone.sid}.json`, headers: asAlice() });
      assert.equal(del.statusCode, 204);
      assert.equal(del.body, '');
      assert.equal((await get(`/Calls/${gone.sid}.json`)).statusCode, 404);
      assert.equal((await app.inject({ method: 'DELETE', url: `${base()}/Calls/${gone.sid}.json`, headers: asAlice() })).statusCode, 404);
      assert.equal((await app.inject({ method: 'DELETE', url: `${base()}/Calls/${bobCall.sid}.json`, headers: asAlice() })).statusCode, 404);
    });

    it('refuses a stored call that has not ended even when it is not live here (20009)', async () => {
      const stuck = call(alice.sid, { status: 'ringing', startTime: '2023-05-01T00:00:00.000Z' });
      await store.createCall(stuck);
      const res = await app.inject({ method: 'DELETE', url: `${base()}/Calls/${stuck.sid}.json`, headers: asAlice() });
      assert.equal(res.statusCode, 400);
      assert.equal((res.json() as { code: number }).code, 20009);
    });
  });

  describe('a call’s recordings', () => {
    it('lists only that call’s recordings as Twilio Recording JSON; a foreign call is 404', async () => {
      const rec = (callSid: string, i: number) => ({
        sid: newSid('RE'), accountSid: alice.sid, callSid, status: 'completed' as const, source: 'RecordVerb' as const, channels: 1 as const,
        sampleRate: 8000, durationSeconds: 3, startTime: `2024-01-01T10:0${i}:00.000Z`, filePath: `rec/${i}.wav`, bytes: 48044, errorCode: null,
      });
      const r1 = rec(c1.sid, 1);
      const r2 = rec(c1.sid, 2);
      await store.createRecording(r1);
      await store.createRecording(r2);
      await store.createRecording(rec(c2.sid, 3));
      const res = await get(`/Calls/${c1.sid}/Recordings.json?PageSize=1`);
      assert.equal(res.statusCode, 200, res.body);
      const page = res.json() as { recordings: Record<string, unknown>[]; next_page_uri: string | null };
      assert.equal(page.recordings.length, 1);
      assert.equal(page.recordings[0]?.sid, r2.sid);
      assert.equal(page.recordings[0]?.call_sid, c1.sid);
      assert.equal(page.recordings[0]?.duration, '3');
      assert.equal(page.recordings[0]?.media_url, `https://pb.example/2010-04-01/Accounts/${alice.sid}/Recordings/${r2.sid}`);
      assert.ok(page.next_page_uri);
      const next = (await app.inject({ method: 'GET', url: page.next_page_uri, headers: asAlice() })).json() as { recordings: { sid: string }[]; next_page_uri: string | null };
      assert.deepEqual(next.recordings.map((r) => r.sid), [r1.sid]);
      assert.equal((await get(`/Calls/${bobCall.sid}/Recordings.json`)).statusCode, 404);
    });
  });
});
