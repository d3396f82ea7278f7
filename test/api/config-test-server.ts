/**
 * Shared set-up for the configuration API tests: a real PgliteStore in a temp dir, two accounts
 * (alice, bob) and createHttpServer over them, with helpers for both dialects' requests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { createHttpServer } from '../../src/api/http-server.js';
import { MetricsRegistry } from '../../src/api/metrics.js';
import { newSid } from '../../src/ids.js';
import type { RegistrationDirectory } from '../../src/calls/registrar-types.js';
import { PgliteStore } from '../../src/store/pglite-store.js';
import type { Account } from '../../src/store/store-types.js';

export const basic = (user: string, pass: string): string => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

export interface ConfigTestServer {
  app: FastifyInstance;
  store: PgliteStore;
  alice: Account;
  bob: Account;
  /** Authorization headers for each account's auth token. */
  asAlice: { authorization: string };
  asBob: { authorization: string };
  /** `/2010-04-01/Accounts/{sid}`. */
  twilioBase(account: Account): string;
  /** POST a Twilio form (pairs keep repeated keys). */
  postForm(url: string, form: [string, string][] | Record<string, string>, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  /** A native JSON request. */
  json(method: 'POST' | 'PATCH', url: string, body: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse>;
  close(): Promise<void>;
}

/** The digest realm the test server's SIP users are created for. */
export const TEST_SIP_REALM = 'patchbay.test';

export async function startConfigTestServer(opts: { registrations?: RegistrationDirectory } = {}): Promise<ConfigTestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-config-api-'));
  const store = await PgliteStore.open(dir);
  const alice = (await store.ensureAccount({ sid: newSid('AC'), authToken: 'alice-secret' })).account;
  const bob = (await store.ensureAccount({ sid: newSid('AC'), authToken: 'bob-secret' })).account;
  const registry = new MetricsRegistry();
  const app = createHttpServer({
    store, accountSid: alice.sid, isReady: () => true, metrics: () => registry.render(), registry, sipRealm: TEST_SIP_REALM,
    ...(opts.registrations ? { registrations: opts.registrations } : {}),
  });
  await app.ready();
  const asAlice = { authorization: basic(alice.sid, 'alice-secret') };
  return {
    app,
    store,
    alice,
    bob,
    asAlice,
    asBob: { authorization: basic(bob.sid, 'bob-secret') },
    twilioBase: (account) => `/2010-04-01/Accounts/${account.sid}`,
    postForm: (url, form, headers = asAlice) =>
      app.inject({
        method: 'POST',
        url,
        headers: { ...headers, 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams(Array.isArray(form) ? form : Object.entries(form)).toString(),
      }),
    json: (method, url, body, headers = asAlice) =>
      app.inject({ method, url, headers: { ...headers, 'content-type': 'application/json' }, payload: JSON.stringify(body) }),
    async close() {
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
