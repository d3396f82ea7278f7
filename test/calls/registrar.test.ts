/**
 * Registrar (RFC 3261 §10.3) with real REGISTER messages from the parser, the real DigestServer,
 * an in-memory user lookup and a fake clock for the expiry timers.
 */
import { describe, it, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { Registrar, type RegistrationChange } from '../../src/calls/registrar.js';
import { authorizationFor, digestHa1, DigestServer, parseChallenge, pickChallenge } from '../../src/sip/digest.js';
import { parseDatagram } from '../../src/sip/parser.js';
import type { SipAddress, SipRequest } from '../../src/sip/message.js';
import type { ResponseOptions } from '../../src/sip/responses.js';
import type { StoredSipUserRecord } from '../../src/store/store-types.js';
import { FakeClock } from '../helpers/fake-clock.js';

const REALM = 'patchbay';
const WALL0 = Date.UTC(2025, 0, 1);

function userRecord(username: string, password: string, sid: string, realm = REALM): StoredSipUserRecord {
  return {
    sid,
    accountSid: 'AC1',
    username,
    friendlyName: username,
    realm,
    ha1Md5: digestHa1('MD5', username, realm, password),
    ha1Sha256: digestHa1('SHA-256', username, realm, password),
    voiceApplicationSid: null,
    voiceUrl: null,
    voiceMethod: 'POST',
    voiceFallbackUrl: null,
    voiceFallbackMethod: 'POST',
    statusCallback: null,
    statusCallbackMethod: 'POST',
    dateCreated: '2025-01-01T00:00:00Z',
    dateUpdated: '2025-01-01T00:00:00Z',
  };
}

interface Reply {
  status: number;
  opts: ResponseOptions;
}

interface RegisterOpts {
  user?: string;
  toUser?: string;
  callId?: string;
  cseq?: number;
  contacts?: string[];
  expires?: number | string;
  authorization?: string;
}

let seq = 0;
function registerRequest(o: RegisterOpts): SipRequest {
  const user = o.toUser ?? o.user ?? 'alice';
  const lines = [
    'REGISTER sip:127.0.0.1 SIP/2.0',
    `Via: SIP/2.0/UDP 127.0.0.1:5071;branch=z9hG4bK-reg${++seq}`,
    'Max-Forwards: 70',
    `From: <sip:${user}@127.0.0.1>;tag=f${seq}`,
    `To: <sip:${user}@127.0.0.1>`,
    `Call-ID: ${o.callId ?? 'reg-1@test'}`,
    `CSeq: ${o.cseq ?? 1} REGISTER`,
    'User-Agent: TestPhone/1.0',
    ...(o.contacts ?? ['<sip:alice@127.0.0.1:5071>']).map((c) => `Contact: ${c}`),
    ...(o.expires !== undefined ? [`Expires: ${o.expires}`] : []),
    ...(o.authorization ? [`Authorization: ${o.authorization}`] : []),
    'Content-Length: 0',
    '',
    '',
  ];
  const out = parseDatagram(Buffer.from(lines.join('\r\n')));
  assert.ok(out.ok && out.message.kind === 'request', 'test REGISTER parses');
  return out.message;
}

const SOURCE: SipAddress = { transport: 'udp', host: '127.0.0.1', port: 5071 };

describe('Registrar', () => {
  let clock: FakeClock;
  let wall: number;
  let digest: DigestServer;
  let registrar: Registrar;
  let changes: RegistrationChange[];

  beforeEach(() => {
    clock = new FakeClock();
    wall = WALL0;
    const users = new Map([
      ['alice', userRecord('alice', 'secret-a', 'US1')],
      ['bob', userRecord('bob', 'secret-b', 'US2')],
      ['carol', userRecord('carol', 'secret-c', 'US3', 'other-realm')],
    ]);
    digest = new DigestServer({ realm: REALM, now: () => wall + clock.now(), nonceLifetimeMs: 60_000 });
    registrar = new Registrar({
      users: { findSipUser: async (u) => users.get(u) ?? null },
      digest,
      minExpires: 60,
      maxExpires: 7200,
      clock,
      wallNow: () => wall + clock.now(),
    });
    changes = [];
    registrar.on('changed', (c) => changes.push(c));
  });

  async function send(req: SipRequest): Promise<Reply> {
    const replies: Reply[] = [];
    await registrar.handleRegister(req, SOURCE, (status, opts = {}) => replies.push({ status, opts }));
    assert.equal(replies.length, 1, 'exactly one response per REGISTER');
    return replies[0]!;
  }

  function header(r: Reply, name: string): string[] {
    return (r.opts.headers ?? []).filter((h) => h.name.toLowerCase() === name.toLowerCase()).map((h) => h.value);
  }

  /** The full exchange a phone does: unauthenticated REGISTER, 401, REGISTER with credentials. */
  async function register(o: RegisterOpts & { password?: string; authUser?: string } = {}): Promise<Reply> {
    const first = await send(registerRequest({ ...o, cseq: o.cseq ?? 1 }));
    assert.equal(first.status, 401);
    const challenge = pickChallenge(header(first, 'WWW-Authenticate'));
    assert.ok(challenge);
    const authorization = authorizationFor(challenge, { username: o.authUser ?? o.user ?? 'alice', password: o.password ?? 'secret-a' }, 'REGISTER', 'sip:127.0.0.1', 1);
    return send(registerRequest({ ...o, cseq: (o.cseq ?? 1) + 1, authorization }));
  }

  it('challenges with SHA-256 then MD5, then binds the Contact and lists it', async () => {
    const first = await send(registerRequest({}));
    assert.equal(first.status, 401);
    const challenges = header(first, 'WWW-Authenticate').map(parseChallenge);
    assert.deepEqual(challenges.map((c) => c?.algorithm), ['SHA-256', 'MD5']);
    assert.ok(challenges.every((c) => c?.realm === REALM && c.qop.includes('auth') && !c.stale));
    assert.equal(registrar.bindingsOf('alice').length, 0);

    const ok = await register({});
    assert.equal(ok.status, 200);
    assert.deepEqual(header(ok, 'Contact'), ['<sip:alice@127.0.0.1:5071>;expires=3600']);
    assert.equal(header(ok, 'Date').length, 1);
    const [b] = registrar.bindings('AC1');
    assert.deepEqual(b, {
      accountSid: 'AC1',
      userSid: 'US1',
      username: 'alice',
      contact: 'sip:alice@127.0.0.1:5071',
      source: { transport: 'udp', host: '127.0.0.1', port: 5071 },
      userAgent: 'TestPhone/1.0',
      registeredAt: new Date(WALL0),
      expiresAt: new Date(WALL0 + 3600_000),
      callId: 'reg-1@test',
      cseq: 2,
      instanceId: null,
    });
    assert.deepEqual(registrar.bindingsOf('alice'), [b]);
    assert.deepEqual(registrar.bindings('AC1', 'US1'), [b]);
    assert.deepEqual(registrar.bindings('AC1', 'US2'), []);
    assert.deepEqual(registrar.bindings('AC2'), []);
    assert.deepEqual(changes.map((c) => [c.reason, c.username, c.bindings.length]), [['registered', 'alice', 1]]);
  });

  it('answers 403 to a wrong password, an unknown user, a user of another realm, and binds nothing', async () => {
    assert.equal((await register({ password: 'wrong' })).status, 403);
    assert.equal((await register({ user: 'mallory', password: 'x' })).status, 403);
    assert.equal((await register({ user: 'carol', password: 'secret-c' })).status, 403);
    assert.deepEqual(registrar.bindings('AC1'), []);
    assert.equal(clock.pending, 0);
    assert.equal(changes.length, 0);
  });

  it("answers 403 to the right credentials of another user than the To's", async () => {
    const r = await register({ toUser: 'alice', authUser: 'bob', password: 'secret-b' });
    assert.equal(r.status, 403);
    assert.deepEqual(registrar.bindings('AC1'), []);
  });

  it('re-challenges with stale=true when the right password comes over an expired nonce', async () => {
    const first = await send(registerRequest({}));
    const challenge = pickChallenge(header(first, 'WWW-Authenticate'))!;
    clock.advance(61_000); // past the 60 s nonce lifetime
    const late = authorizationFor(challenge, { username: 'alice', password: 'secret-a' }, 'REGISTER', 'sip:127.0.0.1', 1);
    const stale = await send(registerRequest({ cseq: 2, authorization: late }));
    assert.equal(stale.status, 401);
    assert.ok(header(stale, 'WWW-Authenticate').map(parseChallenge).every((c) => c?.stale === true));
    assert.deepEqual(registrar.bindings('AC1'), []);
    const fresh = authorizationFor(pickChallenge(header(stale, 'WWW-Authenticate'))!, { username: 'alice', password: 'secret-a' }, 'REGISTER', 'sip:127.0.0.1', 1);
    assert.equal((await send(registerRequest({ cseq: 3, authorization: fresh }))).status, 200);
  });

  it('refuses expiries below the minimum with 423 Min-Expires, cuts longer ones to the maximum', async () => {
    const brief = await register({ expires: 30 });
    assert.equal(brief.status, 423);
    assert.deepEqual(header(brief, 'Min-Expires'), ['60']);
    assert.deepEqual(registrar.bindings('AC1'), []);

    const long = await register({ expires: 100_000, cseq: 3 });
    assert.equal(long.status, 200);
    assert.deepEqual(header(long, 'Contact'), ['<sip:alice@127.0.0.1:5071>;expires=7200']);
    assert.deepEqual(clock.pendingDelays(), [7200_000]);
    assert.deepEqual(registrar.bindingsOf('alice')[0]?.expiresAt, new Date(WALL0 + 7200_000));
  });

  it("takes a Contact's expires parameter over the Expires header", async () => {
    const r = await register({ contacts: ['<sip:alice@127.0.0.1:5071>;expires=120'], expires: 600 });
    assert.deepEqual(header(r, 'Contact'), ['<sip:alice@127.0.0.1:5071>;expires=120']);
  });

  it('keeps several devices of one user and lists them all in each 200', async () => {
    await register({ callId: 'desk', contacts: ['<sip:alice@10.0.0.1:5060>'] });
    const r = await register({ callId: 'mobile', contacts: ['<sip:alice@10.0.0.2:5060>'], expires: 600 });
    assert.equal(r.status, 200);
    assert.deepEqual(header(r, 'Contact'), ['<sip:alice@10.0.0.1:5060>;expires=3600', '<sip:alice@10.0.0.2:5060>;expires=600']);
    // soonest-expiring last
    assert.deepEqual(registrar.bindingsOf('alice').length, 2);
    assert.deepEqual(registrar.bindings('AC1').map((b) => b.contact), ['sip:alice@10.0.0.1:5060', 'sip:alice@10.0.0.2:5060']);
  });

  it('recognises a device by its +sip.instance even when its Contact URI changes', async () => {
    const inst = '+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"';
    await register({ callId: 'a', contacts: [`<sip:alice@10.0.0.1:5060>;${inst}`] });
    const r = await register({ callId: 'b', contacts: [`<sip:alice@10.0.0.9:5070>;${inst}`] });
    assert.deepEqual(header(r, 'Contact'), [`<sip:alice@10.0.0.9:5070>;expires=3600;${inst}`]);
    const [b] = registrar.bindingsOf('alice');
    assert.equal(registrar.bindingsOf('alice').length, 1);
    assert.equal(b?.instanceId, 'urn:uuid:00000000-0000-1000-8000-000A95A0E128');
    assert.equal(b?.contact, 'sip:alice@10.0.0.9:5070');
    assert.equal(clock.pending, 1, 'the replaced binding left no timer behind');
  });

  it('removes one contact with expires=0 and all with * / Expires: 0', async () => {
    await register({ callId: 'desk', contacts: ['<sip:alice@10.0.0.1:5060>'] });
    await register({ callId: 'mobile', contacts: ['<sip:alice@10.0.0.2:5060>'] });
    const one = await register({ callId: 'mobile', cseq: 3, contacts: ['<sip:alice@10.0.0.2:5060>;expires=0'] });
    assert.deepEqual(header(one, 'Contact'), ['<sip:alice@10.0.0.1:5060>;expires=3600']);
    assert.equal(clock.pending, 1);

    await register({ callId: 'mobile', cseq: 5, contacts: ['<sip:alice@10.0.0.2:5060>'] });
    const all = await register({ callId: 'other', contacts: ['*'], expires: 0 });
    assert.equal(all.status, 200);
    assert.deepEqual(header(all, 'Contact'), []);
    assert.deepEqual(registrar.bindingsOf('alice'), []);
    assert.equal(clock.pending, 0);
    assert.equal(changes.at(-1)?.reason, 'unregistered');
  });

  it('replaces the only binding in one request (remove one Contact, add another)', async () => {
    await register({ callId: 'c', contacts: ['<sip:alice@10.0.0.1>'] });
    const r = await register({ callId: 'c', cseq: 3, contacts: ['<sip:alice@10.0.0.1>;expires=0', '<sip:alice@10.0.0.2>'] });
    assert.deepEqual(header(r, 'Contact'), ['<sip:alice@10.0.0.2>;expires=3600']);
    assert.deepEqual(registrar.bindingsOf('alice').map((b) => b.contact), ['sip:alice@10.0.0.2']);
  });

  it('expires a binding longer than one Node timer can wait (re-armed in steps)', async () => {
    const users = { findSipUser: async (u: string) => (u === 'alice' ? userRecord('alice', 'secret-a', 'US1') : null) };
    registrar = new Registrar({ users, digest, minExpires: 60, maxExpires: 40 * 86400, clock, wallNow: () => wall + clock.now() });
    await register({ expires: 30 * 86400 });
    clock.advance(30 * 86400_000 - 1);
    assert.equal(registrar.bindingsOf('alice').length, 1);
    clock.advance(1);
    assert.deepEqual(registrar.bindingsOf('alice'), []);
    assert.equal(clock.pending, 0);
  });

  it('answers 400 to * with a non-zero or absent Expires, or next to another Contact', async () => {
    await register({});
    assert.equal((await register({ contacts: ['*'], expires: 3600, cseq: 3 })).status, 400);
    assert.equal((await register({ contacts: ['*'], cseq: 5 })).status, 400);
    assert.equal((await register({ contacts: ['*', '<sip:alice@10.0.0.3>'], expires: 0, cseq: 7 })).status, 400);
    assert.equal((await register({ contacts: ['<sip:alice@10.0.0.3'], cseq: 9 })).status, 400, 'malformed Contact');
    assert.equal(registrar.bindingsOf('alice').length, 1);
  });

  it('removes a binding exactly when it expires, and a refresh moves the deadline', async () => {
    await register({ expires: 120 });
    clock.advance(60_000);
    await register({ expires: 120, cseq: 3 }); // refresh at 60 s: now due at 180 s
    clock.advance(119_999);
    assert.equal(registrar.bindingsOf('alice').length, 1);
    assert.equal(changes.length, 2);
    clock.advance(1);
    assert.deepEqual(registrar.bindingsOf('alice'), []);
    assert.deepEqual(changes.at(-1), { accountSid: 'AC1', userSid: 'US1', username: 'alice', reason: 'expired', bindings: [] });
    assert.equal(clock.pending, 0);
  });

  it('keeps the registration time across refreshes and reports the remaining seconds', async () => {
    await register({ expires: 3600 });
    clock.advance(1000_500);
    const query = await register({ contacts: [], cseq: 3 });
    assert.equal(query.status, 200);
    assert.deepEqual(header(query, 'Contact'), ['<sip:alice@127.0.0.1:5071>;expires=2600']);
    await register({ cseq: 5, expires: 3600 });
    assert.deepEqual(registrar.bindingsOf('alice')[0]?.registeredAt, new Date(WALL0));
    assert.deepEqual(registrar.bindingsOf('alice')[0]?.expiresAt, new Date(WALL0 + 1000_500 + 3600_000));
  });

  it('fails an out-of-order REGISTER (same Call-ID, CSeq not higher) with 500 and changes nothing', async () => {
    await register({ callId: 'c1', cseq: 10, expires: 600 }); // bound with CSeq 11
    const first = await send(registerRequest({ callId: 'c1', cseq: 11 }));
    const challenge = pickChallenge(header(first, 'WWW-Authenticate'))!;
    const auth = authorizationFor(challenge, { username: 'alice', password: 'secret-a' }, 'REGISTER', 'sip:127.0.0.1', 1);
    // Two contacts: a new one and the old one out of order. Nothing of it may be committed.
    const r = await send(registerRequest({ callId: 'c1', cseq: 11, authorization: auth, contacts: ['<sip:alice@10.0.0.5>', '<sip:alice@127.0.0.1:5071>;expires=0'] }));
    assert.equal(r.status, 500);
    assert.deepEqual(registrar.bindingsOf('alice').map((b) => [b.contact, b.cseq]), [['sip:alice@127.0.0.1:5071', 11]]);
    // Another Call-ID (the phone restarted) may use any CSeq.
    const restarted = authorizationFor(challenge, { username: 'alice', password: 'secret-a' }, 'REGISTER', 'sip:127.0.0.1', 2);
    const r2 = await send(registerRequest({ callId: 'c2', cseq: 1, authorization: restarted, contacts: ['<sip:alice@127.0.0.1:5071>;expires=0'] }));
    assert.equal(r2.status, 200);
    assert.deepEqual(registrar.bindingsOf('alice'), []);
  });

  it('answers 400 to a malformed To and 404 to an AOR without a user part', async () => {
    const req = registerRequest({});
    req.headers.set('To', 'not a uri');
    assert.equal((await send(req)).status, 400);
    const noUser = registerRequest({});
    noUser.headers.set('To', '<sip:127.0.0.1>');
    assert.equal((await send(noUser)).status, 404);
  });

  it('offers only the configured algorithms and refuses credentials in any other', async () => {
    const users = { findSipUser: async (u: string) => (u === 'alice' ? userRecord('alice', 'secret-a', 'US1') : null) };
    const md5Only = new Registrar({ users, digest, minExpires: 60, maxExpires: 7200, clock, algorithms: ['MD5'] });
    const replies: Reply[] = [];
    const respond = (status: number, opts: ResponseOptions = {}): void => void replies.push({ status, opts });
    await md5Only.handleRegister(registerRequest({}), SOURCE, respond);
    assert.deepEqual(header(replies[0]!, 'WWW-Authenticate').map((v) => parseChallenge(v)?.algorithm), ['MD5']);
    const md5 = pickChallenge(header(replies[0]!, 'WWW-Authenticate'))!;
    await md5Only.handleRegister(registerRequest({ cseq: 2, authorization: authorizationFor(md5, { username: 'alice', password: 'secret-a' }, 'REGISTER', 'sip:127.0.0.1', 1) }), SOURCE, respond);
    assert.equal(replies[1]?.status, 200);

    // A SHA-256-only registrar cannot be talked down to MD5.
    const shaOnly = new Registrar({ users, digest, minExpires: 60, maxExpires: 7200, clock, algorithms: ['SHA-256'] });
    await shaOnly.handleRegister(registerRequest({ callId: 'x', cseq: 1, authorization: authorizationFor(md5, { username: 'alice', password: 'secret-a' }, 'REGISTER', 'sip:127.0.0.1', 2) }), SOURCE, respond);
    assert.equal(replies[2]?.status, 403);
    assert.deepEqual(shaOnly.bindingsOf('alice'), []);
    assert.throws(() => new Registrar({ users, digest, minExpires: 60, maxExpires: 7200, clock, algorithms: [] }), /no digest challenge/);
    md5Only.close();
  });

  it('refuses a device beyond the per-user limit with 403, atomically', async () => {
    const users = { findSipUser: async (u: string) => (u === 'alice' ? userRecord('alice', 'secret-a', 'US1') : null) };
    registrar = new Registrar({ users, digest, minExpires: 60, maxExpires: 7200, clock, maxBindingsPerUser: 2 });
    await register({ callId: 'a', contacts: ['<sip:alice@10.0.0.1>'] });
    const r = await register({ callId: 'b', contacts: ['<sip:alice@10.0.0.2>', '<sip:alice@10.0.0.3>'] });
    assert.equal(r.status, 403);
    assert.deepEqual(registrar.bindingsOf('alice').map((b) => b.contact), ['sip:alice@10.0.0.1']);
    // Replacing one device by another in one request stays within the limit.
    const swap = await register({ callId: 'a', cseq: 3, contacts: ['<sip:alice@10.0.0.1>;expires=0', '<sip:alice@10.0.0.2>', '<sip:alice@10.0.0.3>'] });
    assert.equal(swap.status, 200);
    assert.equal(registrar.bindingsOf('alice').length, 2);
  });

  it("does not hand a deleted user's devices to a new user with the same username", async () => {
    let current = userRecord('alice', 'secret-a', 'US1');
    registrar = new Registrar({ users: { findSipUser: async (u: string) => (u === 'alice' ? current : null) }, digest, minExpires: 60, maxExpires: 7200, clock });
    await register({ callId: 'old', contacts: ['<sip:alice@10.0.0.1>'] });
    current = { ...userRecord('alice', 'secret-a', 'US9'), accountSid: 'AC2' };
    await register({ callId: 'new', contacts: ['<sip:alice@10.0.0.2>'] });
    assert.deepEqual(registrar.bindings('AC1'), []);
    assert.deepEqual(registrar.bindings('AC2').map((b) => [b.userSid, b.contact]), [['US9', 'sip:alice@10.0.0.2']]);
    assert.equal(clock.pending, 1);
  });

  it('close() forgets every binding and leaves no timer', async () => {
    await register({ callId: 'x', contacts: ['<sip:alice@10.0.0.1>'] });
    await register({ user: 'bob', password: 'secret-b', callId: 'y', contacts: ['<sip:bob@10.0.0.2>'] });
    assert.equal(clock.pending, 2);
    registrar.close();
    assert.equal(clock.pending, 0);
    assert.deepEqual(registrar.bindings('AC1'), []);
  });
});
