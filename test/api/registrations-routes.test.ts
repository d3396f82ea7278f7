import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Fastify from 'fastify';
import type { RegistrationBinding, RegistrationDirectory } from '../../src/calls/registrar-types.js';
import { installErrorHandlers } from '../../src/api/api-errors.js';
import { registrationsRoutes } from '../../src/api/registrations-routes.js';
import { startConfigTestServer, type ConfigTestServer } from './config-test-server.js';

/** A registrar stand-in: fixed bindings, filtered the way the contract says. */
class FakeDirectory implements RegistrationDirectory {
  readonly list: RegistrationBinding[] = [];
  bindings(accountSid: string, userSid?: string): RegistrationBinding[] {
    return this.list.filter((b) => b.accountSid === accountSid && (userSid === undefined || b.userSid === userSid));
  }
  bindingsOf(username: string): RegistrationBinding[] {
    return this.list.filter((b) => b.username === username);
  }
}

function binding(over: Partial<RegistrationBinding> & Pick<RegistrationBinding, 'accountSid' | 'userSid' | 'username'>): RegistrationBinding {
  return {
    contact: `sip:${over.username}@192.0.2.10:5062;transport=udp`,
    source: { transport: 'udp', host: '192.0.2.10', port: 5062 },
    userAgent: 'baresip v3',
    registeredAt: new Date('2025-01-01T10:00:00.000Z'),
    expiresAt: new Date('2025-01-01T11:00:00.000Z'),
    callId: 'c1',
    cseq: 1,
    instanceId: null,
    ...over,
  };
}

describe('Registrations API', () => {
  const directory = new FakeDirectory();
  let s: ConfigTestServer;
  let aliceUser: string;
  let otherUser: string;
  before(async () => {
    s = await startConfigTestServer({ registrations: directory });
    aliceUser = (await s.json('POST', '/v1/users', { username: 'reg-alice', password: 'password-ok' })).json().sid;
    otherUser = (await s.json('POST', '/v1/users', { username: 'reg-alice2', password: 'password-ok' })).json().sid;
    const bobUser = (await s.json('POST', '/v1/users', { username: 'reg-bob', password: 'password-ok' }, s.asBob)).json().sid;
    const soon = new Date(Date.now() + 3_600_000);
    directory.list.push(
      binding({ accountSid: s.alice.sid, userSid: aliceUser, username: 'reg-alice', expiresAt: soon }),
      binding({
        accountSid: s.alice.sid, userSid: aliceUser, username: 'reg-alice', contact: 'sip:reg-alice@[2001:db8::5]:5070;transport=tcp',
        source: { transport: 'tcp', host: '2001:db8::5', port: 5070 }, userAgent: null, expiresAt: soon,
      }),
      binding({ accountSid: s.alice.sid, userSid: otherUser, username: 'reg-alice2', expiresAt: soon }),
      binding({ accountSid: s.bob.sid, userSid: bobUser, username: 'reg-bob', expiresAt: soon }),
    );
  });
  after(() => s?.close());

  it("lists the account's bindings (not another account's), optionally one user's", async () => {
    const all = await s.app.inject({ url: '/v1/registrations', headers: s.asAlice });
    assert.equal(all.statusCode, 200, all.body);
    const regs = all.json().registrations as Record<string, unknown>[];
    assert.deepEqual(regs.map((r) => r.username), ['reg-alice', 'reg-alice', 'reg-alice2']);
    assert.deepEqual(Object.keys(regs[0]!).sort(), ['contact', 'expiresAt', 'expiresIn', 'registeredAt', 'source', 'userAgent', 'userSid', 'username']);
    assert.equal(regs[0]!.source, 'udp:192.0.2.10:5062');
    assert.equal(regs[1]!.source, 'tcp:[2001:db8::5]:5070', 'IPv6 sources are bracketed');
    assert.equal(regs[1]!.userAgent, null);
    assert.equal(regs[0]!.registeredAt, '2025-01-01T10:00:00.000Z');
    // An hour from when the bindings were made; generous lower bound for a slow machine.
    assert.ok((regs[0]!.expiresIn as number) <= 3600 && (regs[0]!.expiresIn as number) > 3000);

    const one = (await s.app.inject({ url: `/v1/registrations?userSid=${otherUser}`, headers: s.asAlice })).json();
    assert.deepEqual(one.registrations.map((r: { userSid: string }) => r.userSid), [otherUser]);
    const bobs = (await s.app.inject({ url: '/v1/registrations', headers: s.asBob })).json();
    assert.deepEqual(bobs.registrations.map((r: { username: string }) => r.username), ['reg-bob']);
  });

  it("GET /v1/users/{sid}/registrations: the user's bindings; another account's or unknown user is 404", async () => {
    const res = await s.app.inject({ url: `/v1/users/${aliceUser}/registrations`, headers: s.asAlice });
    assert.equal(res.statusCode, 200, res.body);
    assert.equal(res.json().registrations.length, 2);
    const bobsUser = directory.list.find((b) => b.username === 'reg-bob')!.userSid;
    const foreign = await s.app.inject({ url: `/v1/users/${bobsUser}/registrations`, headers: s.asAlice });
    assert.equal(foreign.statusCode, 404);
    assert.equal(foreign.json().code, 20404);
    assert.equal((await s.app.inject({ url: '/v1/users/US00000000000000000000000000000000/registrations', headers: s.asAlice })).statusCode, 404);
    assert.equal((await s.app.inject({ url: '/v1/registrations' })).statusCode, 401);
  });

  it('expiresIn counts whole seconds down by the injected clock, never below 0; no directory means empty lists', async () => {
    const store = s.store;
    let now = Date.parse('2025-01-01T10:59:00.500Z');
    const fixed = new FakeDirectory();
    fixed.list.push(binding({ accountSid: s.alice.sid, userSid: aliceUser, username: 'reg-alice' }));
    const app = Fastify();
    installErrorHandlers(app);
    await app.register(registrationsRoutes, { prefix: '/v1', store, directory: fixed, now: () => now });
    const bare = Fastify();
    installErrorHandlers(bare);
    await bare.register(registrationsRoutes, { prefix: '/v1', store });
    try {
      const read = async () => (await app.inject({ url: '/v1/registrations', headers: s.asAlice })).json().registrations[0].expiresIn as number;
      assert.equal(await read(), 59);
      now = Date.parse('2025-01-01T11:00:00.000Z');
      assert.equal(await read(), 0);
      now += 5000;
      assert.equal(await read(), 0);
      assert.deepEqual((await bare.inject({ url: '/v1/registrations', headers: s.asAlice })).json(), { registrations: [] });
      assert.deepEqual((await bare.inject({ url: `/v1/users/${aliceUser}/registrations`, headers: s.asAlice })).json(), { registrations: [] });
    } finally {
      await app.close();
      await bare.close();
    }
  });
});
