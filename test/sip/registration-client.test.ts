import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { SipStack, type Responder } from '../../src/sip/sip-stack.js';
import { RegistrationClient, RegistrationConfigError } from '../../src/sip/registration-client.js';
import { digestHa1, DigestServer } from '../../src/sip/digest.js';
import { getTag, parseCSeq } from '../../src/sip/header-values.js';
import type { SipRequest } from '../../src/sip/message.js';
import { FakeClock } from '../helpers/fake-clock.js';

const REALM = 'carrier.test';
const lookup = async (u: string) => (u === 'trunk1' ? { ha1Md5: digestHa1('MD5', u, REALM, 'pw'), ha1Sha256: digestHa1('SHA-256', u, REALM, 'pw') } : null);

type Policy = (req: SipRequest, respond: Responder) => void;

/**
 * A registrar on a real stack: every REGISTER must carry valid credentials (401 otherwise), then
 * `policy` decides. Records each REGISTER received.
 */
async function withRegistrar(fn: (ctx: { client: (o?: { password?: string; expires?: number }) => RegistrationClient; clock: FakeClock; seen: SipRequest[]; setPolicy: (p: Policy) => void }) => Promise<void>): Promise<void> {
  const clock = new FakeClock();
  const ua = new SipStack({ host: '127.0.0.1', port: 0, clock, userAgent: 'pbx' });
  const registrar = new SipStack({ host: '127.0.0.1', port: 0, userAgent: 'carrier' });
  await ua.start();
  await registrar.start();
  const digest = new DigestServer({ realm: REALM });
  const seen: SipRequest[] = [];
  let policy: Policy = (req, respond) => respond(200, { headers: [{ name: 'Contact', value: `${req.headers.get('contact')};expires=${req.headers.get('expires')}` }] });
  registrar.on('register', (req, _source, respond) => {
    seen.push(req);
    void digest.verify('REGISTER', req.headers.getAll('authorization'), lookup).then((v) => {
      if (v.result === 'ok') return policy(req, respond);
      respond(401, { headers: digest.challenges(v.result === 'stale').map((value) => ({ name: 'WWW-Authenticate', value })) });
    });
  });
  const clients: RegistrationClient[] = [];
  const client = (o: { password?: string; expires?: number } = {}) => {
    const c = new RegistrationClient({
      stack: ua,
      registrar: { transport: 'udp', host: '127.0.0.1', port: registrar.udpPort },
      aor: 'sip:trunk1@carrier.test',
      username: 'trunk1',
      password: o.password ?? 'pw',
      expires: o.expires ?? 3600,
      clock,
    });
    clients.push(c);
    return c;
  };
  try {
    await fn({ client, clock, seen, setPolicy: (p) => (policy = p) });
  } finally {
    for (const c of clients) await c.stop();
    await ua.stop();
    await registrar.stop();
  }
}

function next(c: RegistrationClient, ev: 'registered' | 'failed'): Promise<unknown[]> {
  return new Promise((resolve) => {
    if (ev === 'registered') c.once('registered', (expires) => resolve([expires]));
    else c.once('failed', (status, reason) => resolve([status, reason]));
  });
}

test('challenge → registered: 401 answered once, same Call-ID and From tag, CSeq 1 then 2, granted expiry from Contact', async () => {
  await withRegistrar(async ({ client, clock, seen, setPolicy }) => {
    setPolicy((req, respond) => respond(200, { headers: [{ name: 'Contact', value: `${req.headers.get('contact')};expires=120` }, { name: 'Expires', value: '999' }] }));
    const c = client();
    assert.equal(c.state, 'idle');
    const registered = next(c, 'registered');
    c.start();
    assert.equal(c.state, 'registering');
    assert.deepEqual(await registered, [120]);
    assert.equal(c.state, 'registered');
    assert.equal(seen.length, 2);
    assert.equal(seen[0]!.headers.has('authorization'), false);
    assert.ok(seen[1]!.headers.get('authorization')?.startsWith('Digest '));
    assert.deepEqual(seen.map((r) => parseCSeq(r.headers.get('cseq')!)?.seq), [1, 2]);
    assert.equal(seen[1]!.headers.get('call-id'), seen[0]!.headers.get('call-id'));
    assert.equal(getTag(seen[1]!.headers.get('from')!), getTag(seen[0]!.headers.get('from')!));
    assert.equal(seen[0]!.uri, 'sip:carrier.test');
    assert.equal(seen[0]!.headers.get('to'), '<sip:trunk1@carrier.test>');
    assert.equal(seen[0]!.headers.get('expires'), '3600');
    assert.match(seen[0]!.headers.get('contact')!, /^<sip:patchbay@127\.0\.0\.1:\d+>$/);
    // The refresh is armed at max(120 − 30, 60) = 90 s.
    assert.ok(clock.pendingDelays().includes(90_000), `pending: ${clock.pendingDelays()}`);
  });
});

test('refresh on the fake clock: pre-emptive credentials (no new challenge), same Call-ID, next CSeq; Expires header honoured', async () => {
  await withRegistrar(async ({ client, clock, seen, setPolicy }) => {
    setPolicy((_req, respond) => respond(200, { headers: [{ name: 'Expires', value: '600' }] }));
    const c = client();
    const first = next(c, 'registered');
    c.start();
    assert.deepEqual(await first, [600]);
    assert.equal(seen.length, 2);
    const again = next(c, 'registered');
    clock.advance(569_999);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(seen.length, 2, 'no refresh before max(600 − 30, 300) s');
    clock.advance(1);
    assert.deepEqual(await again, [600]);
    assert.equal(seen.length, 3);
    assert.equal(parseCSeq(seen[2]!.headers.get('cseq')!)?.seq, 3);
    assert.equal(seen[2]!.headers.get('call-id'), seen[0]!.headers.get('call-id'));
    assert.match(seen[2]!.headers.get('authorization')!, /nc=00000002/);
  });
});

test('423 Interval Too Brief: asked again with Min-Expires, which later refreshes keep', async () => {
  await withRegistrar(async ({ client, clock, seen, setPolicy }) => {
    setPolicy((req, respond) => {
      if (Number(req.headers.get('expires')) < 1800) return respond(423, { headers: [{ name: 'Min-Expires', value: '1800' }] });
      respond(200, { headers: [{ name: 'Contact', value: `${req.headers.get('contact')};expires=1800` }] });
    });
    const c = client({ expires: 60 });
    const registered = next(c, 'registered');
    c.start();
    assert.deepEqual(await registered, [1800]);
    assert.deepEqual(seen.map((r) => r.headers.get('expires')), ['60', '60', '1800']);
    const refreshed = next(c, 'registered');
    clock.advance(1770_000);
    assert.deepEqual(await refreshed, [1800]);
    assert.equal(seen.at(-1)!.headers.get('expires'), '1800');
    assert.equal(seen.length, 4);
  });
});

test('failures are retried with backoff 30 s, 60 s...; a success resets it', async () => {
  await withRegistrar(async ({ client, clock, setPolicy }) => {
    setPolicy((_req, respond) => respond(503));
    const c = client();
    let failed = next(c, 'failed');
    c.start();
    assert.deepEqual(await failed, [503, '503 Service Unavailable']);
    assert.equal(c.state, 'failed');
    assert.ok(clock.pendingDelays().includes(30_000), `pending: ${clock.pendingDelays()}`);
    failed = next(c, 'failed');
    clock.advance(30_000);
    await failed;
    assert.ok(clock.pendingDelays().includes(60_000), `pending: ${clock.pendingDelays()}`);
    setPolicy((_req, respond) => respond(200));
    const ok = next(c, 'registered');
    clock.advance(60_000);
    assert.deepEqual(await ok, [3600]); // no expiry in the 200: what we asked for
    assert.equal(c.state, 'registered');
    setPolicy((_req, respond) => respond(403));
    failed = next(c, 'failed');
    clock.advance(3570_000);
    assert.deepEqual(await failed, [403, '403 Forbidden']);
    assert.ok(clock.pendingDelays().includes(30_000), 'backoff starts again at 30 s');
  });
});

test('wrong password: the second 401 is a failure (no loop)', async () => {
  await withRegistrar(async ({ client, seen }) => {
    const c = client({ password: 'nope' });
    const failed = next(c, 'failed');
    c.start();
    const [status, reason] = await failed;
    assert.equal(status, 401);
    assert.match(String(reason), /credentials refused/);
    assert.equal(seen.length, 2);
  });
});

test('stop() unregisters with Expires: 0 for our Contact and leaves no timer', async () => {
  await withRegistrar(async ({ client, clock, seen }) => {
    const c = client();
    const registered = next(c, 'registered');
    c.start();
    await registered;
    const before = seen.length;
    assert.equal(await c.stop(), true);
    assert.equal(c.state, 'idle');
    const unregister = seen.at(-1)!;
    assert.equal(seen.length, before + 1); // pre-emptive credentials: accepted at once
    assert.equal(unregister.headers.get('expires'), '0');
    assert.equal(unregister.headers.get('contact'), seen[0]!.headers.get('contact'));
    clock.advance(10_000_000);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(seen.length, before + 1, 'no refresh after stop');
  });
});

test('no answer: Timer F gives failed(null, timeout) and a retry', async () => {
  const clock = new FakeClock();
  const silent = dgram.createSocket('udp4');
  await new Promise<void>((r) => silent.bind(0, '127.0.0.1', r));
  const ua = new SipStack({ host: '127.0.0.1', port: 0, clock });
  await ua.start();
  const c = new RegistrationClient({ stack: ua, registrar: { transport: 'udp', host: '127.0.0.1', port: silent.address().port }, aor: 'sip:u@x.test', username: 'u', password: 'p', expires: 300, clock });
  try {
    const failed = next(c, 'failed');
    c.start();
    clock.advance(32_000);
    assert.deepEqual(await failed, [null, 'timeout']);
    assert.ok(clock.pendingDelays().includes(30_000));
  } finally {
    c.removeAllListeners();
    await ua.stop();
    silent.close();
  }
});

test('bad options are typed errors', () => {
  const ua = new SipStack({ host: '127.0.0.1', port: 0 });
  const base = { stack: ua, registrar: { transport: 'udp' as const, host: '127.0.0.1', port: 5060 }, username: 'u', password: 'p' };
  assert.throws(() => new RegistrationClient({ ...base, aor: 'tel:+1555', expires: 60 }), RegistrationConfigError);
  assert.throws(() => new RegistrationClient({ ...base, aor: 'sip:u@h', expires: 0 }), (e: unknown) => e instanceof RegistrationConfigError && e.code === 'SIP_BAD_AOR');
});
