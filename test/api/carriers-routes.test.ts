import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { basic, startConfigTestServer, TEST_SIP_REALM, type ConfigTestServer } from './config-test-server.js';
import { digestHa1 } from '../../src/sip/digest.js';

describe('Carriers API (/v1/carriers, native only)', () => {
  let s: ConfigTestServer;
  before(async () => void (s = await startConfigTestServer()));
  after(() => s?.close());

  it('create 201 with defaults, fetch, patch, delete 204, then 404; the password is never returned', async () => {
    const created = await s.json('POST', '/v1/carriers', { host: 'sip.carrier.example', username: 'trunk7', password: 'p4ss-w0rd', prefixes: ['+1', '+4420'] });
    assert.equal(created.statusCode, 201, created.body);
    const c = created.json();
    assert.match(c.sid, /^TK[0-9a-f]{32}$/);
    assert.deepEqual({ ...c, sid: 'X', dateCreated: 'D', dateUpdated: 'D' }, {
      sid: 'X', accountSid: s.alice.sid, friendlyName: 'sip.carrier.example', host: 'sip.carrier.example', port: 5060, transport: 'udp',
      username: 'trunk7', hasPassword: true, register: false, registerExpires: 3600, prefixes: ['+1', '+4420'], priority: 10,
      inboundAddresses: [], inboundUsername: null, fromDomain: null, techPrefix: '', enabled: true, srtp: 'optional', dateCreated: 'D', dateUpdated: 'D',
    });
    assert.ok(!created.body.includes('p4ss-w0rd'));
    // The store keeps it as given: answering the carrier's challenges needs it.
    assert.equal((await s.store.getCarrier(s.alice.sid, c.sid))?.password, 'p4ss-w0rd');

    const fetched = await s.app.inject({ url: `/v1/carriers/${c.sid}`, headers: s.asAlice });
    assert.equal(fetched.statusCode, 200);
    assert.deepEqual(fetched.json(), c);

    const patched = await s.json('PATCH', `/v1/carriers/${c.sid}`, {
      port: 5080, transport: 'tcp', register: true, registerExpires: 600, priority: 0, inboundAddresses: ['203.0.113.0/24', '2001:db8::7'],
      fromDomain: 'pbx.example.com', techPrefix: '99#', enabled: false, friendlyName: 'Main trunk', srtp: 'required',
    });
    assert.equal(patched.statusCode, 200, patched.body);
    const p = patched.json();
    assert.deepEqual(
      [p.port, p.transport, p.register, p.registerExpires, p.priority, p.inboundAddresses, p.fromDomain, p.techPrefix, p.enabled, p.friendlyName, p.prefixes, p.srtp],
      [5080, 'tcp', true, 600, 0, ['203.0.113.0/24', '2001:db8::7'], 'pbx.example.com', '99#', false, 'Main trunk', ['+1', '+4420'], 'required'],
    );
    // Credentials clear as a pair (and registering needs them, so it goes first).
    const cleared = await s.json('PATCH', `/v1/carriers/${c.sid}`, { register: false, username: null, password: null, techPrefix: null, prefixes: [] });
    assert.equal(cleared.statusCode, 200, cleared.body);
    assert.deepEqual([cleared.json().username, cleared.json().hasPassword, cleared.json().techPrefix, cleared.json().prefixes], [null, false, '', []]);

    assert.equal((await s.app.inject({ method: 'DELETE', url: `/v1/carriers/${c.sid}`, headers: s.asAlice })).statusCode, 204);
    const gone = await s.app.inject({ url: `/v1/carriers/${c.sid}`, headers: s.asAlice });
    assert.equal(gone.statusCode, 404);
    assert.equal(gone.json().code, 20404);
  });

  it('numbers and flags given as strings are read by the schema; a single prefix string becomes a list', async () => {
    const created = await s.json('POST', '/v1/carriers', { host: '198.51.100.9', port: '5070', enabled: 'false', prefixes: '+33' });
    assert.equal(created.statusCode, 201, created.body);
    assert.deepEqual([created.json().port, created.json().enabled, created.json().prefixes], [5070, false, ['+33']]);
  });

  it('bad values are 400 with the field named; nothing is stored', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{}, /host/],
      [{ host: '' }, /host/],
      [{ host: 'not a host' }, /host/],
      [{ host: 'h.example', port: 70000 }, /port/],
      [{ host: 'h.example', port: 'x' }, /port/],
      [{ host: 'h.example', transport: 'tls' }, /transport/],
      [{ host: 'h.example', registerExpires: 30 }, /registerExpires/],
      [{ host: 'h.example', priority: 1001 }, /priority/],
      [{ host: 'h.example', prefixes: ['+1a'] }, /prefixes/],
      [{ host: 'h.example', inboundAddresses: ['10.0.0.0/40'] }, /inboundAddresses/],
      [{ host: 'h.example', register: true }, /register needs a username and password/],
      [{ host: 'h.example', username: 'u' }, /username and password/],
      [{ host: 'h.example', hasPassword: true }, /Unknown field "hasPassword"/],
      [{ host: 'h.example', sid: 'TK0' }, /Unknown field "sid"/],
      [{ host: 'h.example', srtp: 'mandatory' }, /srtp must be optional, required or off/],
    ];
    for (const [body, message] of cases) {
      const res = await s.json('POST', '/v1/carriers', body);
      assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
      assert.equal(res.json().code, 20001);
      assert.match(res.json().message, message, JSON.stringify(body));
    }
    const page = await s.app.inject({ url: '/v1/carriers?friendlyName=h.example', headers: s.asAlice });
    assert.deepEqual(page.json().carriers, []);
  });

  it("another account's carrier is a 404 and cannot be changed or deleted; no credentials is 401", async () => {
    const bobs = (await s.json('POST', '/v1/carriers', { host: 'bob.example', friendlyName: 'bob trunk' }, s.asBob)).json();
    for (const method of ['GET', 'DELETE'] as const) {
      assert.equal((await s.app.inject({ method, url: `/v1/carriers/${bobs.sid}`, headers: s.asAlice })).statusCode, 404);
    }
    assert.equal((await s.json('PATCH', `/v1/carriers/${bobs.sid}`, { priority: 1 })).statusCode, 404);
    const list = await s.app.inject({ url: '/v1/carriers', headers: s.asAlice });
    assert.ok(!list.json().carriers.some((c: { sid: string }) => c.sid === bobs.sid));
    assert.equal((await s.app.inject({ url: `/v1/carriers/${bobs.sid}`, headers: s.asBob })).json().priority, 10);
    assert.equal((await s.app.inject({ url: '/v1/carriers' })).statusCode, 401);
    assert.equal((await s.app.inject({ url: '/v1/carriers', headers: { authorization: basic(s.alice.sid, 'wrong') } })).statusCode, 401);
  });

  it('lists newest first, pages with nextPageUri and filters by friendlyName', async () => {
    const sids: string[] = [];
    for (let i = 0; i < 3; i++) {
      sids.push((await s.json('POST', '/v1/carriers', { host: `pager${i}.example`, friendlyName: 'pager' })).json().sid);
      await new Promise((r) => setTimeout(r, 3));
    }
    const first = (await s.app.inject({ url: '/v1/carriers?friendlyName=pager&pageSize=2', headers: s.asAlice })).json();
    assert.deepEqual(first.carriers.map((c: { sid: string }) => c.sid), [sids[2], sids[1]]);
    assert.match(first.nextPageUri, /^\/v1\/carriers\?friendlyName=pager&pageSize=2&pageToken=/);
    const second = (await s.app.inject({ url: first.nextPageUri, headers: s.asAlice })).json();
    assert.deepEqual(second.carriers.map((c: { sid: string }) => c.sid), [sids[0]]);
    assert.equal(second.nextPageUri, null);
  });

  it('inbound digest credentials: only the username is shown, the HA1s for the realm are stored, a taken username is 409 on any account', async () => {
    const created = await s.json('POST', '/v1/carriers', { host: 'trunk.example', inboundUsername: 'trunk-in', inboundPassword: 'in-secret-1' });
    assert.equal(created.statusCode, 201, created.body);
    const c = created.json();
    assert.equal(c.inboundUsername, 'trunk-in');
    for (const hidden of ['in-secret-1', 'inboundHa1', 'inboundRealm', 'inboundPassword']) assert.ok(!created.body.includes(hidden), hidden);
    const stored = (await s.store.getCarrier(s.alice.sid, c.sid))!;
    assert.equal(stored.inboundRealm, TEST_SIP_REALM);
    assert.equal(stored.inboundHa1Md5, digestHa1('MD5', 'trunk-in', TEST_SIP_REALM, 'in-secret-1'));
    assert.equal(stored.inboundHa1Sha256, digestHa1('SHA-256', 'trunk-in', TEST_SIP_REALM, 'in-secret-1'));

    const taken = await s.json('POST', '/v1/carriers', { host: 'other.example', inboundUsername: 'trunk-in', inboundPassword: 'whatever-1' }, s.asBob);
    assert.equal(taken.statusCode, 409, taken.body);
    assert.ok(!taken.body.includes(s.alice.sid), 'the owner is not revealed');

    for (const [body, message] of [
      [{ inboundUsername: 'renamed' }, /needs inboundPassword/],
      [{ inboundPassword: 'short' }, /8-128/],
      [{ inboundUsername: 'bad"name', inboundPassword: 'long-enough' }, /inboundUsername/],
    ] as const) {
      const res = await s.json('PATCH', `/v1/carriers/${c.sid}`, body);
      assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
      assert.match(res.json().message, message);
    }
    // A new password alone keeps the username and rehashes.
    const rekeyed = await s.json('PATCH', `/v1/carriers/${c.sid}`, { inboundPassword: 'in-secret-2' });
    assert.equal(rekeyed.statusCode, 200, rekeyed.body);
    assert.equal((await s.store.getCarrier(s.alice.sid, c.sid))?.inboundHa1Md5, digestHa1('MD5', 'trunk-in', TEST_SIP_REALM, 'in-secret-2'));
    const cleared = await s.json('PATCH', `/v1/carriers/${c.sid}`, { inboundUsername: null });
    assert.equal(cleared.statusCode, 200, cleared.body);
    assert.equal(cleared.json().inboundUsername, null);
    const after = (await s.store.getCarrier(s.alice.sid, c.sid))!;
    assert.deepEqual([after.inboundRealm, after.inboundHa1Md5, after.inboundHa1Sha256], [null, null, null]);
  });

  it('has no Twilio-dialect routes', async () => {
    const res = await s.app.inject({ url: `${s.twilioBase(s.alice)}/Carriers.json`, headers: s.asAlice });
    assert.equal(res.statusCode, 404);
  });
});
