/**
 * Every API route, enumerated from the router itself (an onRoute hook), so a route added later is
 * covered without editing this test:
 *  - without credentials, or with a wrong password, every route but the public ones answers 401 JSON;
 *  - with Alice's credentials, every route that names one of Bob's resources (a SID in the path, or
 *    Bob's AccountSid in a Twilio path) answers 404, never 200/403 with data, and changes nothing;
 *  - Alice's lists never contain Bob's SIDs;
 *  - request size limits: 10 MB JSON and form bodies get 413 JSON, deeply nested JSON 400.
 * The server has every optional part (calls, recordings, streams, users, registrations).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, HTTPMethods, LightMyRequestResponse } from 'fastify';
import { createHttpServer, PUBLIC_ROUTES } from '../../src/api/http-server.js';
import { MetricsRegistry } from '../../src/api/metrics.js';
import type { LiveCall } from '../../src/api/streams-routes.js';
import type { RegistrationBinding } from '../../src/calls/registrar-types.js';
import { newSid } from '../../src/ids.js';
import { PgliteStore } from '../../src/store/pglite-store.js';
import type { Account, CallRecord, RecordingRecord } from '../../src/store/store-types.js';
import { basic } from './config-test-server.js';
import { FakeCallService } from './fake-call-service.js';

interface Route {
  method: string;
  url: string;
}

/** Bob's resources, by the path parameter names the routes use for them. */
interface BobsThings {
  call: string;
  recording: string;
  number: string;
  application: string;
  key: string;
  carrier: string;
  user: string;
}

const RESOURCE_BY_SEGMENT: Record<string, keyof BobsThings> = {
  calls: 'call', Calls: 'call', recordings: 'recording', Recordings: 'recording', numbers: 'number', IncomingPhoneNumbers: 'number',
  applications: 'application', Applications: 'application', keys: 'key', Keys: 'key', carriers: 'carrier', users: 'user',
};

/** Fills a route pattern with Bob's SIDs (each parameter from the collection segment before it). */
function fill(url: string, accountSid: string, bob: BobsThings): string {
  const parts = url.split('/');
  const value = (name: string, collection: string): string => {
    if (name === 'AccountSid') return accountSid;
    if (name === 'callSid' || name === 'CallSid') return bob.call;
    if (name === 'nameOrSid' || collection === 'Streams') return 'MZ' + '0'.repeat(32) + (name === 'file' ? '.json' : '');
    const thing = RESOURCE_BY_SEGMENT[collection];
    assert.ok(thing, `no resource known for parameter ${name} in ${url}`);
    return name === 'file' ? `${bob[thing]}.json` : bob[thing];
  };
  return parts
    .map((part, i) => {
      if (!part.startsWith(':')) return part;
      const [name = '', suffix] = part.slice(1).split('.');
      return value(name, parts[i - 1] ?? '') + (suffix !== undefined ? `.${suffix}` : '');
    })
    .join('/');
}

/** A body that would change something if the request got through (so validation cannot answer first). */
function bodyFor(url: string, twilio: boolean): string {
  const calls = /\/calls\/:sid$|Calls\/:CallSid\.json$/i.test(url);
  const streams = /streams$|Streams\/:file$/i.test(url);
  if (twilio) return streams ? 'Url=wss%3A%2F%2Fapp.example%2Fs' : calls ? 'Status=completed' : 'FriendlyName=hijacked';
  return JSON.stringify(streams ? { url: 'wss://app.example/s' } : calls ? { status: 'completed' } : { friendlyName: 'hijacked' });
}

describe('every API route: authentication and account isolation', () => {
  let dir: string;
  let store: PgliteStore;
  let app: FastifyInstance;
  let alice: Account;
  let bob: Account;
  const bob_: Partial<BobsThings> = {};
  const routes: Route[] = [];
  const streamCalls: string[] = [];
  const asAlice = (): Record<string, string> => ({ authorization: basic(alice.sid, 'alice-secret') });
  const asBob = (): Record<string, string> => ({ authorization: basic(bob.sid, 'bob-secret') });

  function inject(method: string, route: string, headers: Record<string, string>, accountSid = alice.sid): Promise<LightMyRequestResponse> {
    const url = fill(route, accountSid, bob_ as BobsThings);
    const twilio = url.startsWith('/2010-04-01/');
    const withBody = method === 'POST' || method === 'PATCH' || method === 'PUT';
    return app.inject({
      method: method as HTTPMethods,
      url,
      headers: { ...headers, ...(withBody ? { 'content-type': twilio ? 'application/x-www-form-urlencoded' : 'application/json' } : {}) },
      ...(withBody ? { payload: bodyFor(route, twilio) } : {}),
    });
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'patchbay-cross-account-'));
    store = await PgliteStore.open(join(dir, 'db'));
    alice = (await store.ensureAccount({ sid: newSid('AC'), authToken: 'alice-secret' })).account;
    bob = (await store.ensureAccount({ sid: newSid('AC'), authToken: 'bob-secret' })).account;
    const calls = new FakeCallService(store);
    // Bob's call is live: a stream request that got through would reach it (and be recorded here).
    const bobLive: LiveCall = {
      info: { get accountSid() { return bob.sid; } },
      ended: false,
      startStream: async () => {
        streamCalls.push('start');
        throw new Error('must not be reached by another account');
      },
      stopStream: () => {
        streamCalls.push('stop');
        return true;
      },
    };
    const binding = (): RegistrationBinding => ({
      accountSid: bob.sid, userSid: bob_.user ?? '', username: 'bob.phone', contact: 'sip:bob@192.0.2.1', source: { transport: 'udp', host: '192.0.2.1', port: 5060 },
      userAgent: 'phone', registeredAt: new Date(), expiresAt: new Date(Date.now() + 60_000),
    } as RegistrationBinding);
    app = createHttpServer({
      store, accountSid: alice.sid, isReady: () => true, metrics: () => '', registry: new MetricsRegistry(), sipRealm: 'patchbay.test', dataDir: dir, calls,
      liveCalls: { get: (sid) => (sid === bob_.call ? bobLive : undefined) },
      registrations: { bindings: (accountSid) => (accountSid === bob.sid ? [binding()] : []), bindingsOf: () => [binding()] },
    });
    app.addHook('onRoute', (r) => {
      for (const method of [r.method].flat()) routes.push({ method, url: r.url });
    });
    await app.ready();

    const create = async (path: string, body: Record<string, unknown>): Promise<string> => {
      const res = await app.inject({ method: 'POST', url: path, headers: { ...asBob(), 'content-type': 'application/json' }, payload: JSON.stringify(body) });
      assert.equal(res.statusCode, 201, `${path}: ${res.body}`);
      return res.json<{ sid: string }>().sid;
    };
    bob_.application = await create('/v1/applications', { friendlyName: 'bob app', voiceUrl: 'https://bob.example/voice' });
    bob_.number = await create('/v1/numbers', { phoneNumber: '+15550001111', voiceUrl: 'https://bob.example/voice' });
    bob_.carrier = await create('/v1/carriers', { host: 'bob-carrier.example', username: 'bob', password: 'bob-carrier-pass' });
    bob_.user = await create('/v1/users', { username: 'bob.phone', password: 'bob-phone-pass' });
    bob_.key = await create('/v1/keys', { friendlyName: 'bob key' });
    const call: CallRecord = (await calls.create(bob, { to: 'sip:x@192.0.2.1', from: '+15550001111' } as never));
    bob_.call = call.sid;
    const rec: RecordingRecord = {
      sid: newSid('RE'), accountSid: bob.sid, callSid: call.sid, status: 'completed', source: 'RecordVerb', channels: 1, sampleRate: 8000,
      durationSeconds: 1, startTime: new Date().toISOString(), filePath: `recordings/${bob.sid}/x.wav`, bytes: 44, errorCode: null,
    };
    await store.createRecording(rec);
    bob_.recording = rec.sid;
  });

  after(async () => {
    await app?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('found the routes of every resource type', () => {
    const urls = new Set(routes.map((r) => r.url));
    for (const expected of [
      '/v1/calls/:sid', '/v1/recordings/:sid/media', '/v1/numbers/:sid', '/v1/applications/:sid', '/v1/carriers/:sid', '/v1/users/:sid',
      '/v1/keys/:sid', '/v1/registrations', '/v1/calls/:callSid/streams', '/v1/account/speech',
      '/2010-04-01/Accounts/:AccountSid/Calls/:CallSid.json', '/2010-04-01/Accounts/:AccountSid/Recordings/:file',
      '/2010-04-01/Accounts/:AccountSid/IncomingPhoneNumbers/:file', '/2010-04-01/Accounts/:AccountSid/Calls/:CallSid/Streams/:file',
    ]) {
      assert.ok(urls.has(expected), `route ${expected} not registered`);
    }
    assert.ok(routes.length > 80, `only ${routes.length} routes`);
  });

  it('refuses every non-public route without credentials, and with a wrong password, with 401 JSON', async () => {
    const bad: Record<string, string>[] = [{}, { authorization: basic(alice.sid, 'wrong') }, { authorization: basic(bob_.key!, 'not-the-secret') }, { authorization: 'Bearer alice-secret' }];
    for (const route of routes) {
      if (PUBLIC_ROUTES.includes(route.url)) continue;
      for (const headers of bad) {
        const res = await inject(route.method, route.url, headers);
        assert.equal(res.statusCode, 401, `${route.method} ${route.url} with ${JSON.stringify(headers)}: ${res.statusCode} ${res.body}`);
        if (route.method !== 'HEAD') {
          assert.match(String(res.headers['content-type']), /application\/json/);
          assert.equal(res.json<{ code: number }>().code, 20003);
        }
      }
    }
  });

  it('serves only health, the OpenAPI document and metrics without credentials', async () => {
    for (const url of ['/healthz', '/v1/openapi.json', '/metrics']) assert.equal((await app.inject({ url })).statusCode, 200, url);
    assert.deepEqual([...PUBLIC_ROUTES].sort(), ['/healthz', '/metrics', '/v1/openapi.json']);
  });

  it("answers 404 to every route naming one of Bob's resources with Alice's credentials, and changes nothing", async () => {
    let checked = 0;
    for (const route of routes) {
      const namesResource = route.url.split('/').some((p) => p.startsWith(':') && p !== ':AccountSid');
      if (!namesResource) continue;
      const res = await inject(route.method, route.url, asAlice());
      assert.equal(res.statusCode, 404, `${route.method} ${route.url}: ${res.statusCode} ${res.body}`);
      checked++;
    }
    assert.ok(checked > 40, `checked ${checked}`);
    assert.deepEqual(streamCalls, [], "Bob's live call was never touched");
    // Everything of Bob's is still there, unchanged, for Bob.
    for (const [path, sid] of [['numbers', bob_.number], ['applications', bob_.application], ['carriers', bob_.carrier], ['users', bob_.user], ['keys', bob_.key], ['calls', bob_.call], ['recordings', bob_.recording]]) {
      const res = await app.inject({ url: `/v1/${path}/${sid}`, headers: asBob() });
      assert.equal(res.statusCode, 200, `${path}: ${res.body}`);
    }
  });

  it("answers 404 to every Twilio route with Bob's AccountSid in the path and Alice's credentials", async () => {
    let checked = 0;
    for (const route of routes.filter((r) => r.url.includes(':AccountSid'))) {
      const res = await inject(route.method, route.url, asAlice(), bob.sid);
      assert.equal(res.statusCode, 404, `${route.method} ${route.url}: ${res.statusCode} ${res.body}`);
      if (route.method !== 'HEAD') assert.equal(res.json<{ code: number }>().code, 20404);
      checked++;
    }
    assert.ok(checked > 20, `checked ${checked}`);
  });

  it("never lists Bob's resources to Alice", async () => {
    const bobSids = Object.values(bob_) as string[];
    for (const route of routes.filter((r) => r.method === 'GET' && !r.url.split('/').some((p) => p.startsWith(':') && p !== ':AccountSid'))) {
      const res = await inject('GET', route.url, asAlice());
      assert.equal(res.statusCode, 200, `${route.url}: ${res.body}`);
      for (const sid of [...bobSids, bob.sid, 'bob.phone']) assert.ok(!res.body.includes(sid), `${route.url} shows ${sid}`);
    }
  });
});

describe('request size limits', () => {
  let dir: string;
  let store: PgliteStore;
  let app: FastifyInstance;
  let auth: Record<string, string>;
  let accountSid: string;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'patchbay-body-limits-'));
    store = await PgliteStore.open(join(dir, 'db'));
    const alice = (await store.ensureAccount({ sid: newSid('AC'), authToken: 'alice-secret' })).account;
    accountSid = alice.sid;
    auth = { authorization: basic(alice.sid, 'alice-secret') };
    app = createHttpServer({ store, accountSid: alice.sid, isReady: () => true, metrics: () => '', registry: new MetricsRegistry(), calls: new FakeCallService(store) });
    await app.ready();
  });
  after(async () => {
    await app?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a 10 MB JSON body with 413 JSON', async () => {
    const payload = JSON.stringify({ friendlyName: 'x'.repeat(10 * 1024 * 1024) });
    const res = await app.inject({ method: 'POST', url: '/v1/applications', headers: { ...auth, 'content-type': 'application/json' }, payload });
    assert.equal(res.statusCode, 413);
    assert.match(String(res.headers['content-type']), /application\/json/);
    assert.equal(typeof res.json<{ code: number }>().code, 'number');
  });

  it('refuses a 10 MB form body with 413 JSON', async () => {
    const payload = `FriendlyName=${'x'.repeat(10 * 1024 * 1024)}`;
    const res = await app.inject({ method: 'POST', url: `/2010-04-01/Accounts/${accountSid}/Applications.json`, headers: { ...auth, 'content-type': 'application/x-www-form-urlencoded' }, payload });
    assert.equal(res.statusCode, 413);
    assert.match(String(res.headers['content-type']), /application\/json/);
    assert.equal(typeof res.json<{ code: number }>().code, 'number');
  });

  it('refuses deeply nested JSON with 400 before parsing it, and accepts ordinary nesting', async () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    const res = await app.inject({ method: 'POST', url: '/v1/applications', headers: { ...auth, 'content-type': 'application/json' }, payload: `{"friendlyName":"a","x":${deep}}` });
    assert.equal(res.statusCode, 400);
    assert.match(res.json<{ message: string }>().message, /nested deeper than 32/);
    // Brackets inside strings are text, not nesting.
    const ok = await app.inject({ method: 'POST', url: '/v1/applications', headers: { ...auth, 'content-type': 'application/json' }, payload: JSON.stringify({ friendlyName: '[[[[{{{{"]]' }) });
    assert.equal(ok.statusCode, 201, ok.body);
  });
});

describe('fail closed: a route added without authentication is refused, not served', () => {
  it('answers 401 to a plugin route that forgot basicAuth, with or without credentials', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'patchbay-fail-closed-'));
    const store = await PgliteStore.open(join(dir, 'db'));
    try {
      const alice = (await store.ensureAccount({ sid: newSid('AC'), authToken: 'alice-secret' })).account;
      const app = createHttpServer({ store, accountSid: alice.sid, isReady: () => true, metrics: () => '', registry: new MetricsRegistry() });
      let served = 0;
      void app.register(async (plugin) => {
        plugin.get('/v1/forgotten', async () => {
          served++;
          return { secret: 'data' };
        });
      });
      await app.ready();
      for (const headers of [{}, { authorization: basic(alice.sid, 'alice-secret') }]) {
        const res = await app.inject({ url: '/v1/forgotten', headers });
        assert.equal(res.statusCode, 401, res.body);
        assert.equal(res.json<{ code: number }>().code, 20003);
      }
      assert.equal(served, 0);
      await app.close();
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
