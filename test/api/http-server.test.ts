import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createHttpServer } from '../../src/api/http-server.js';
import { MetricsRegistry } from '../../src/api/metrics.js';
import { PgliteStore } from '../../src/store/pglite-store.js';
import type { Account, CallRecord } from '../../src/store/store-types.js';
import { newSid } from '../../src/ids.js';

function call(accountSid: string, i: number, over: Partial<CallRecord> = {}): CallRecord {
  return {
    sid: newSid('CA'), accountSid, from: '+15550001111', to: '+15550002222', direction: 'inbound', status: 'completed',
    startTime: new Date(Date.UTC(2024, 0, 1, 12, 0, i)).toISOString(), answerTime: null, endTime: null, durationSeconds: null,
    sipCallId: null, sipResponseCode: null, errorCode: null, errorMessage: null, endReason: null, parentCallSid: null, ...over,
  };
}

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

describe('HTTP API', () => {
  let dir: string;
  let store: PgliteStore;
  let app: FastifyInstance;
  let ready = false;
  let alice: Account;
  let bob: Account;
  const registry = new MetricsRegistry();
  const aliceCalls: CallRecord[] = [];
  let bobCall: CallRecord;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'patchbay-api-'));
    store = await PgliteStore.open(dir);
    alice = (await store.ensureAccount({ sid: newSid('AC'), authToken: 'alice-secret' })).account;
    bob = (await store.ensureAccount({ sid: newSid('AC'), authToken: 'bob-secret' })).account;
    for (let i = 0; i < 7; i++) aliceCalls.push(call(alice.sid, i, { status: i % 2 ? 'completed' : 'failed' }));
    bobCall = call(bob.sid, 99);
    await Promise.all([...aliceCalls, bobCall].map((c) => store.createCall(c)));
    await store.appendEvents(aliceCalls[0]!.sid, [{ at: '2024-01-01T12:00:00.500Z', type: 'sip.in', detail: { method: 'INVITE' } }]);
    app = createHttpServer({ store, accountSid: alice.sid, isReady: () => ready, metrics: () => registry.render(), registry });
    await app.ready();
  });
  after(async () => {
    await app?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const asAlice = { authorization: basic('', '') };
  before(() => void (asAlice.authorization = basic(alice.sid, 'alice-secret')));

  it('GET /healthz is 503 until ready, then 200', async () => {
    let res = await app.inject({ url: '/healthz' });
    assert.equal(res.statusCode, 503);
    ready = true;
    res = await app.inject({ url: '/healthz' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { status: 'ok' });
    ready = false; // draining
    assert.equal((await app.inject({ url: '/healthz' })).statusCode, 503);
  });

  it('requires valid Basic credentials', async () => {
    const cases: Record<string, string | undefined> = {
      missing: undefined,
      wrongToken: basic(alice.sid, 'bob-secret'),
      otherAccountsToken: basic(bob.sid, 'alice-secret'),
      unknownAccount: basic(newSid('AC'), 'alice-secret'),
      notASid: basic('admin', 'alice-secret'),
      malformed: 'Basic !!!',
      bearer: 'Bearer abc',
    };
    for (const [name, authorization] of Object.entries(cases)) {
      const res = await app.inject({ url: '/v1/calls', headers: authorization ? { authorization } : {} });
      assert.equal(res.statusCode, 401, name);
      assert.match(String(res.headers['www-authenticate']), /^Basic realm="Patchbay"/, name);
      assert.deepEqual(res.json(), {
        code: 20003, message: 'Authenticate', status: 401, moreInfo: 'https://www.twilio.com/docs/errors/20003',
        detail: 'Your AccountSid or AuthToken was incorrect.',
      }, name);
    }
    assert.equal((await app.inject({ url: '/v1/calls', headers: asAlice })).statusCode, 200);
  });

  it('lists only the account\'s own calls, newest first, following nextPageUri', async () => {
    const expected = [...aliceCalls].reverse().map((c) => c.sid);
    const seen: string[] = [];
    let url: string | null = '/v1/calls?pageSize=3';
    let pages = 0;
    while (url) {
      const res: { statusCode: number; json(): unknown } = await app.inject({ url, headers: asAlice });
      assert.equal(res.statusCode, 200);
      const body = res.json() as { calls: { sid: string; accountSid: string }[]; nextPageToken: string | null; nextPageUri: string | null };
      assert.ok(body.calls.every((c) => c.accountSid === alice.sid));
      seen.push(...body.calls.map((c) => c.sid));
      if (body.nextPageUri) assert.match(body.nextPageUri, /^\/v1\/calls\?pageSize=3&pageToken=/);
      url = body.nextPageUri;
      pages++;
    }
    assert.equal(pages, 3);
    assert.deepEqual(seen, expected);

    const failed = (await app.inject({ url: '/v1/calls?status=failed', headers: asAlice })).json() as { calls: { status: string }[]; nextPageUri: null };
    assert.equal(failed.calls.length, 4);
    assert.ok(failed.calls.every((c) => c.status === 'failed'));
    assert.equal(failed.nextPageUri, null);
  });

  it('fetches one call with its timeline; another account\'s call is a 404', async () => {
    const first = aliceCalls[0]!;
    const res = await app.inject({ url: `/v1/calls/${first.sid}`, headers: asAlice });
    assert.equal(res.statusCode, 200);
    const body = res.json() as Record<string, unknown>;
    assert.equal(body.sid, first.sid);
    assert.equal(body.status, 'failed');
    assert.equal(body.answerTime, null);
    assert.equal(typeof body.dateCreated, 'string');
    assert.deepEqual(body.events, [{ at: '2024-01-01T12:00:00.500Z', type: 'sip.in', detail: { method: 'INVITE' } }]);

    for (const sid of [bobCall.sid, newSid('CA'), 'nonsense']) {
      const miss = await app.inject({ url: `/v1/calls/${sid}`, headers: asAlice });
      assert.equal(miss.statusCode, 404);
      assert.deepEqual(miss.json(), {
        code: 20404, message: `The requested resource /v1/calls/${sid} was not found`, status: 404, moreInfo: 'https://www.twilio.com/docs/errors/20404',
      });
    }
  });

  it('answers bad query parameters with 400 JSON', async () => {
    for (const q of ['pageSize=0', 'pageSize=1001', 'pageSize=abc', 'pageSize=2.5', 'status=bogus', 'pageToken=garbage', 'status=failed&status=completed']) {
      const res = await app.inject({ url: `/v1/calls?${q}`, headers: asAlice });
      assert.equal(res.statusCode, 400, q);
      const body = res.json() as { code: number; status: number; message: string; moreInfo: string };
      assert.equal(body.code, 20001, q);
      assert.equal(body.status, 400, q);
      assert.ok(body.message.length > 0, q);
      assert.equal(body.moreInfo, 'https://www.twilio.com/docs/errors/20001');
    }
  });

  it('unknown routes and unexpected failures are JSON too', async () => {
    const res = await app.inject({ url: '/v1/nothing-here', headers: asAlice });
    assert.equal(res.statusCode, 404);
    assert.equal((res.json() as { code: number }).code, 20404);

    const broken = Object.create(store, { listCalls: { value: async () => Promise.reject(new Error('disk on fire')) } }) as PgliteStore;
    const app2 = createHttpServer({ store: broken, accountSid: alice.sid, isReady: () => true, metrics: () => '', registry: new MetricsRegistry() });
    try {
      const r2 = await app2.inject({ url: '/v1/calls', headers: asAlice });
      assert.equal(r2.statusCode, 500);
      assert.deepEqual(r2.json(), { code: 20500, message: 'Internal server error', status: 500, moreInfo: 'https://www.twilio.com/docs/errors/20500' });
    } finally {
      await app2.close();
    }
  });

  it('GET /metrics serves the registry as Prometheus text, including HTTP request counts', async () => {
    const res = await app.inject({ url: '/metrics' });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
    assert.match(res.body, /^# TYPE patchbay_http_requests_total counter$/m);
    assert.match(res.body, /^patchbay_http_requests_total\{method="GET",route="\/v1\/calls",status="401"\} 7$/m);
    assert.match(res.body, /^patchbay_http_requests_total\{method="GET",route="\/v1\/calls\/:sid",status="404"\} 3$/m);
    assert.match(res.body, /^patchbay_http_request_duration_seconds_count\{route="\/healthz"\} 3$/m);
  });
});
