import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { installErrorHandlers } from '../../src/api/api-errors.js';
import { callsRoutes } from '../../src/api/calls-routes.js';
import { CallRequestError } from '../../src/calls/call-service.js';
import { newSid } from '../../src/ids.js';
import { PgliteStore } from '../../src/store/pglite-store.js';
import type { Account, CallRecord } from '../../src/store/store-types.js';
import { FakeCallService } from './fake-call-service.js';

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

function call(accountSid: string, fields: Partial<CallRecord>): CallRecord {
  return {
    sid: newSid('CA'), accountSid, from: '+15551110000', to: '+15550000001', direction: 'outbound-api', status: 'completed',
    startTime: '2024-01-01T10:00:00.000Z', answerTime: null, endTime: null, durationSeconds: null, sipCallId: null,
    sipResponseCode: null, errorCode: null, errorMessage: null, endReason: null, parentCallSid: null, ...fields,
  };
}

describe('native calls API', () => {
  let dir: string;
  let store: PgliteStore;
  let app: FastifyInstance;
  let readOnly: FastifyInstance;
  let fake: FakeCallService;
  let alice: Account;
  let bob: Account;
  let c1: CallRecord, c2: CallRecord, c3: CallRecord, bobCall: CallRecord;
  const auth = () => ({ authorization: basic(alice.sid, 'alice-secret') });
  const req = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) =>
    app.inject({ method, url, headers: auth(), ...(payload !== undefined ? { payload: payload as Record<string, unknown> } : {}) });
  const sids = async (query: string): Promise<string[]> => {
    const res = await req('GET', `/v1/calls?${query}`);
    assert.equal(res.statusCode, 200, res.body);
    return (res.json() as { calls: { sid: string }[] }).calls.map((c) => c.sid);
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'patchbay-calls-api-'));
    store = await PgliteStore.open(join(dir, 'db'));
    alice = (await store.ensureAccount({ sid: newSid('AC'), authToken: 'alice-secret' })).account;
    bob = (await store.ensureAccount({ sid: newSid('AC'), authToken: 'bob-secret' })).account;
    c1 = call(alice.sid, { startTime: '2024-01-01T10:00:00.000Z', endTime: '2024-01-01T10:05:00.000Z', durationSeconds: 300 });
    c2 = call(alice.sid, { to: 'sip:bob@example.com', from: 'alice', direction: 'outbound-dial', status: 'busy', startTime: '2024-01-02T10:00:00.000Z', endTime: '2024-01-02T10:00:04.000Z', parentCallSid: c1.sid });
    c3 = call(alice.sid, { status: 'ringing', direction: 'inbound', startTime: '2024-01-03T10:00:00.000Z' });
    bobCall = call(bob.sid, {});
    for (const c of [c1, c2, c3, bobCall]) await store.createCall(c);
    await store.appendEvents(c3.sid, [{ at: '2024-01-03T10:00:00.000Z', type: 'status', detail: { status: 'ringing' } }]);
    fake = new FakeCallService(store);
    fake.setLive({ ...c3, status: 'in-progress', answerTime: '2024-01-03T10:00:02.000Z' });
    app = Fastify({ logger: false });
    installErrorHandlers(app);
    await app.register(callsRoutes, { prefix: '/v1', store, calls: fake });
    await app.ready();
    readOnly = Fastify({ logger: false });
    installErrorHandlers(readOnly);
    await readOnly.register(callsRoutes, { prefix: '/v1', store });
    await readOnly.ready();
  });
  after(async () => {
    await app?.close();
    await readOnly?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  describe('GET /calls', () => {
    it('filters by status, to, from, parentCallSid and start/end time bounds (any ISO offset)', async () => {
      assert.deepEqual(await sids(''), [c3.sid, c2.sid, c1.sid]);
      assert.deepEqual(await sids('to=%2B15550000001'), [c3.sid, c1.sid]);
      assert.deepEqual(await sids('from=alice'), [c2.sid]);
      assert.deepEqual(await sids(`parentCallSid=${c1.sid}`), [c2.sid]);
      assert.deepEqual(await sids('status=busy'), [c2.sid]);
      assert.deepEqual(await sids('startTimeFrom=2024-01-02T00:00:00Z'), [c3.sid, c2.sid]);
      // 11:00+01:00 is 10:00Z: From is inclusive, To exclusive.
      assert.deepEqual(await sids(`startTimeFrom=${encodeURIComponent('2024-01-02T11:00:00+01:00')}&startTimeTo=2024-01-03T10:00:00Z`), [c2.sid]);
      assert.deepEqual(await sids('endTimeTo=2024-01-02T00:00:00Z'), [c1.sid]);
    });

    it('refuses malformed filters with 400/20001', async () => {
      for (const q of ['startTimeFrom=yesterday', 'parentCallSid=CA1', 'status=lost', 'pageSize=0']) {
        const res = await req('GET', `/v1/calls?${q}`);
        assert.equal(res.statusCode, 400, q);
        assert.equal((res.json() as { code: number }).code, 20001);
      }
    });

    it('pages with a relative nextPageUri that keeps the filters', async () => {
      const first = (await req('GET', '/v1/calls?to=%2B15550000001&pageSize=1')).json() as { calls: { sid: string }[]; nextPageUri: string | null };
      assert.deepEqual(first.calls.map((c) => c.sid), [c3.sid]);
      assert.match(first.nextPageUri ?? '', /^\/v1\/calls\?to=%2B15550000001&pageSize=1&pageToken=/);
      const second = (await req('GET', first.nextPageUri!)).json() as { calls: { sid: string }[]; nextPageUri: string | null };
      assert.deepEqual(second.calls.map((c) => c.sid), [c1.sid]);
    });

    it('shows a call live here with its live record', async () => {
      const [live] = ((await req('GET', '/v1/calls?startTimeFrom=2024-01-03T00:00:00Z')).json() as { calls: CallRecord[] }).calls;
      assert.equal(live?.status, 'in-progress');
      assert.equal(live?.answerTime, '2024-01-03T10:00:02.000Z');
    });
  });

  describe('GET /calls/:sid', () => {
    it('returns the live record with the stored event timeline; 404 for a foreign or unknown call', async () => {
      const res = await req('GET', `/v1/calls/${c3.sid}`);
      assert.equal(res.statusCode, 200);
      const body = res.json() as CallRecord & { events: unknown[] };
      assert.equal(body.status, 'in-progress');
      assert.deepEqual(body.events, [{ at: '2024-01-03T10:00:00.000Z', type: 'status', detail: { status: 'ringing' } }]);
      assert.equal((await req('GET', `/v1/calls/${bobCall.sid}`)).statusCode, 404);
      assert.equal((await req('GET', `/v1/calls/${newSid('CA')}`)).statusCode, 404);
    });
  });

  describe('POST /calls', () => {
    it('creates: 201 with the record; the engine gets the body as the request', async () => {
      const body = { to: 'sip:x@127.0.0.1', from: '+15551234567', twiml: '<Response><Say>hi</Say></Response>', statusCallbackEvent: ['answered', 'completed'], timeout: 20 };
      const res = await req('POST', '/v1/calls', body);
      assert.equal(res.statusCode, 201, res.body);
      const rec = res.json() as CallRecord & { dateCreated: string };
      assert.equal(rec.status, 'queued');
      assert.equal(rec.to, 'sip:x@127.0.0.1');
      assert.equal(rec.direction, 'outbound-api');
      assert.equal(typeof rec.dateCreated, 'string');
      assert.deepEqual(fake.creates.at(-1), { accountSid: alice.sid, request: body });
      fake.liveCalls.delete(rec.sid);
      await store.updateCall(rec.sid, { status: 'canceled', endTime: '2024-03-01T10:00:01.000Z' });
      assert.equal(await store.deleteCall(alice.sid, rec.sid), true);
    });

    it('refuses an unknown field, a bad method, a missing to, a relative url and nothing to run', async () => {
      const cases: [Record<string, unknown>, number, RegExp][] = [
        [{ to: 'a', from: 'b', twiml: '<Response/>', record: true }, 20001, /Unknown field "record"/],
        [{ to: 'a', from: 'b', url: 'https://a.example/', method: 'PUT' }, 20001, /method/],
        [{ from: 'b', twiml: '<Response/>' }, 20001, /to/],
        [{ to: 'a', from: 'b', url: '/relative' }, 21205, /Invalid url/],
        [{ to: 'a', from: 'b' }, 21205, /url, twiml or applicationSid/],
        [{ to: 'a', from: 'b', twiml: '<Response/>', timeout: 'soon' }, 20001, /timeout/],
      ];
      const before = fake.creates.length;
      for (const [body, code, message] of cases) {
        const res = await req('POST', '/v1/calls', body);
        assert.equal(res.statusCode, 400, JSON.stringify(body));
        const err = res.json() as { code: number; message: string; moreInfo: string };
        assert.equal(err.code, code, JSON.stringify(body));
        assert.match(err.message, message);
        assert.equal(err.moreInfo, `https://www.twilio.com/docs/errors/${code}`);
      }
      assert.equal(fake.creates.length, before);
    });

    it("passes the engine's refusal on", async () => {
      fake.refuse = new CallRequestError(21210, "'From' is not allowed", 400);
      const res = await req('POST', '/v1/calls', { to: 'a', from: 'b', twiml: '<Response/>' });
      assert.equal(res.statusCode, 400);
      assert.equal((res.json() as { code: number }).code, 21210);
    });

    it('is not served without a CallService', async () => {
      const res = await readOnly.inject({ method: 'POST', url: '/v1/calls', headers: auth(), payload: { to: 'a', from: 'b', twiml: '<Response/>' } });
      assert.equal(res.statusCode, 404);
    });
  });

  describe('PATCH /calls/:sid', () => {
    it('hands the update to the engine and returns the record', async () => {
      const res = await req('PATCH', `/v1/calls/${c3.sid}`, { url: 'https://app.example/next', method: 'GET' });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal((res.json() as CallRecord).status, 'in-progress');
      assert.deepEqual(fake.updates.at(-1), { accountSid: alice.sid, sid: c3.sid, request: { url: 'https://app.example/next', method: 'GET' } });
    });

    it('refuses an empty or unknown update; 21220 for an ended call; 404 for unknown or foreign', async () => {
      assert.equal((await req('PATCH', `/v1/calls/${c3.sid}`, {})).statusCode, 400);
      assert.equal((await req('PATCH', `/v1/calls/${c3.sid}`, { status: 'busy' })).statusCode, 400);
      assert.equal((await req('PATCH', `/v1/calls/${c3.sid}`, { redirect: 'x' })).statusCode, 400);
      const ended = await req('PATCH', `/v1/calls/${c1.sid}`, { status: 'completed' });
      assert.equal(ended.statusCode, 400);
      assert.equal((ended.json() as { code: number }).code, 21220);
      assert.equal((await req('PATCH', `/v1/calls/${newSid('CA')}`, { status: 'completed' })).statusCode, 404);
      assert.equal((await req('PATCH', `/v1/calls/${bobCall.sid}`, { status: 'completed' })).statusCode, 404);
    });
  });

  describe('DELETE /calls/:sid', () => {
    it('refuses a live call (20009), deletes an ended one (204), 404 for missing or foreign', async () => {
      const live = await req('DELETE', `/v1/calls/${c3.sid}`);
      assert.equal(live.statusCode, 400);
      assert.equal((live.json() as { code: number }).code, 20009);
      assert.equal((await req('DELETE', `/v1/calls/${c2.sid}`)).statusCode, 204);
      assert.equal((await req('GET', `/v1/calls/${c2.sid}`)).statusCode, 404);
      assert.equal((await req('DELETE', `/v1/calls/${c2.sid}`)).statusCode, 404);
      assert.equal((await req('DELETE', `/v1/calls/${bobCall.sid}`)).statusCode, 404);
      // Deleting needs no engine: it is served read-only too.
      assert.equal((await readOnly.inject({ method: 'DELETE', url: `/v1/calls/${c1.sid}`, headers: auth() })).statusCode, 204);
    });
  });
});
