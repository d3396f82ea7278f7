/**
 * CarrierRegistrations against a registrar on a real loopback SipStack that challenges every
 * REGISTER (401, digest) and keeps bindings by address of record: carriers with register=true
 * are registered and shown as such, the store is followed on each sync (new, removed, disabled,
 * changed carriers), a refused password shows as failed, and stop() unregisters everything.
 * The sync timer and the clients' timers run on a fake clock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SipStack } from '../../src/sip/sip-stack.js';
import { digestHa1, DigestServer } from '../../src/sip/digest.js';
import { parseNameAddr } from '../../src/sip/header-values.js';
import type { SipRequest } from '../../src/sip/message.js';
import type { StoredCarrierRecord } from '../../src/store/store-types.js';
import { CarrierRegistrations, carrierAor, type CarrierRegistrationStatus } from '../../src/calls/carrier-registrations.js';
import { FakeClock } from '../helpers/fake-clock.js';

const REALM = 'carrier.test';
const PASSWORDS: Record<string, string> = { trunk1: 'pw1', trunk2: 'pw2' };
const NOW = new Date('2030-01-02T03:04:05.000Z');

/** Polls (real time) until `fn` gives a value: the stacks talk over real sockets. */
async function eventually<T>(fn: () => T | null | undefined | false, what: string, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

interface Harness {
  regs: CarrierRegistrations;
  clock: FakeClock;
  carriers: StoredCarrierRecord[];
  /** Live bindings at the registrar, by AOR (the To URI). */
  bindings: Map<string, string>;
  seen: SipRequest[];
  registrarPort: number;
  errors: Error[];
  statusLog: [string, CarrierRegistrationStatus][];
  failStore: { on: boolean };
}

async function withRegistrar(fn: (h: Harness) => Promise<void>): Promise<void> {
  const clock = new FakeClock();
  const ua = new SipStack({ host: '127.0.0.1', port: 0, clock, userAgent: 'pbx' });
  const registrar = new SipStack({ host: '127.0.0.1', port: 0, userAgent: 'carrier' });
  await ua.start();
  await registrar.start();
  const digest = new DigestServer({ realm: REALM });
  const lookup = async (u: string) => {
    const pw = PASSWORDS[u];
    return pw ? { ha1Md5: digestHa1('MD5', u, REALM, pw), ha1Sha256: digestHa1('SHA-256', u, REALM, pw) } : null;
  };
  const bindings = new Map<string, string>();
  const seen: SipRequest[] = [];
  registrar.on('register', (req, _source, respond) => {
    seen.push(req);
    void digest.verify('REGISTER', req.headers.getAll('authorization'), lookup).then((v) => {
      if (v.result !== 'ok') return respond(v.result === 'failed' ? 403 : 401, { headers: digest.challenges(v.result === 'stale').map((value) => ({ name: 'WWW-Authenticate', value })) });
      const aor = parseNameAddr(req.headers.get('to')!)!.uri;
      const expires = Number(req.headers.get('expires'));
      if (expires === 0) bindings.delete(aor);
      else bindings.set(aor, req.headers.get('contact')!);
      respond(200, { headers: expires === 0 ? [] : [{ name: 'Contact', value: `${req.headers.get('contact')};expires=${Math.min(expires, 600)}` }] });
    });
  });
  const carriers: StoredCarrierRecord[] = [];
  const errors: Error[] = [];
  const statusLog: [string, CarrierRegistrationStatus][] = [];
  const failStore = { on: false };
  const regs = new CarrierRegistrations({
    carriers: {
      allEnabledCarriers: async () => {
        if (failStore.on) throw new Error('store unavailable');
        return carriers.filter((c) => c.enabled).map((c) => ({ ...c }));
      },
    },
    stack: ua,
    clock,
    now: () => NOW,
    onError: (err) => errors.push(err),
    onStatus: (sid, s) => statusLog.push([sid, s]),
  });
  try {
    await fn({ regs, clock, carriers, bindings, seen, registrarPort: registrar.udpPort, errors, statusLog, failStore });
  } finally {
    await regs.stop();
    await ua.stop();
    await registrar.stop();
  }
}

let n = 0;
function carrier(port: number, o: Partial<StoredCarrierRecord> = {}): StoredCarrierRecord {
  n++;
  return {
    sid: `TK${String(n).padStart(32, '0')}`,
    accountSid: 'AC' + '1'.repeat(32),
    friendlyName: `carrier ${n}`,
    host: '127.0.0.1',
    port,
    transport: 'udp',
    username: 'trunk1',
    password: 'pw1',
    register: true,
    registerExpires: 3600,
    prefixes: [],
    priority: 10,
    inboundAddresses: [], inboundUsername: null, inboundRealm: null, inboundHa1Md5: null, inboundHa1Sha256: null,
    fromDomain: 'carrier.test',
    techPrefix: '',
    enabled: true,
    dateCreated: NOW.toISOString(),
    dateUpdated: NOW.toISOString(),
    ...o,
  };
}

test('carrierAor: username at fromDomain, else at the host (IPv6 bracketed)', () => {
  assert.equal(carrierAor({ username: 'trunk1', fromDomain: 'pbx.example', host: '192.0.2.1' }), 'sip:trunk1@pbx.example');
  assert.equal(carrierAor({ username: 'trunk1', fromDomain: null, host: '2001:db8::1' }), 'sip:trunk1@[2001:db8::1]');
  assert.equal(carrierAor({ username: 'a#b', fromDomain: null, host: 'sip.example' }), 'sip:a%23b@sip.example');
});

test('a carrier with register=true is registered (challenge answered), others are not; stop() unregisters it', async () => {
  await withRegistrar(async (h) => {
    const reg = carrier(h.registrarPort);
    const noReg = carrier(h.registrarPort, { register: false, username: 'trunk2', password: 'pw2' });
    const disabled = carrier(h.registrarPort, { enabled: false, username: 'trunk2', password: 'pw2' });
    h.carriers.push(reg, noReg, disabled);
    await h.regs.start();
    assert.equal(h.regs.status(reg.sid)?.state, 'registering');
    const status = await eventually(() => h.regs.status(reg.sid)?.state === 'registered' && h.regs.status(reg.sid), 'registered');
    // The registrar granted 600 s of the 3600 asked.
    assert.deepEqual(status, { state: 'registered', expiresAt: new Date(NOW.getTime() + 600_000).toISOString(), lastError: null });
    assert.deepEqual([...h.bindings.keys()], ['sip:trunk1@carrier.test']);
    assert.equal(h.seen.length, 2, 'REGISTER, 401, REGISTER with credentials');
    assert.equal(h.seen[0]!.uri, 'sip:carrier.test');
    assert.equal(h.seen[1]!.headers.get('expires'), '3600');
    assert.equal(h.regs.status(noReg.sid), null);
    assert.equal(h.regs.status(disabled.sid), null);
    assert.deepEqual([...h.regs.statuses().keys()], [reg.sid]);
    assert.deepEqual(h.statusLog.map(([sid, s]) => [sid, s.state]), [[reg.sid, 'registering'], [reg.sid, 'registered']]);

    await h.regs.stop();
    assert.equal(h.bindings.size, 0, 'the binding was removed');
    assert.equal(h.seen.at(-1)!.headers.get('expires'), '0');
    assert.equal(h.regs.status(reg.sid), null);
    // Stopped means stopped: no more syncs (a new carrier is not picked up) and no refreshes.
    const sent = h.seen.length;
    h.carriers.push(carrier(h.registrarPort, { username: 'trunk2', password: 'pw2' }));
    h.clock.advance(3600_000);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(h.seen.length, sent);
    assert.deepEqual([...h.regs.statuses().keys()], []);
    assert.deepEqual(h.errors, []);
  });
});

test('each sync follows the store: a new carrier is registered, a disabled one and a removed one are unregistered', async () => {
  await withRegistrar(async (h) => {
    const a = carrier(h.registrarPort);
    h.carriers.push(a);
    await h.regs.start();
    await eventually(() => h.bindings.has('sip:trunk1@carrier.test'), 'trunk1 bound');

    const b = carrier(h.registrarPort, { username: 'trunk2', password: 'pw2', fromDomain: null });
    h.carriers.push(b);
    assert.equal(h.regs.status(b.sid), null, 'not before the next sync');
    h.clock.advance(15_000);
    await eventually(() => h.regs.status(b.sid)?.state === 'registered', 'trunk2 registered at the next sync');
    assert.ok(h.bindings.has('sip:trunk2@127.0.0.1'), 'AOR at the host when there is no fromDomain');

    a.enabled = false;
    h.clock.advance(15_000);
    await eventually(() => !h.bindings.has('sip:trunk1@carrier.test'), 'trunk1 unbound when disabled');
    assert.equal(h.regs.status(a.sid), null);

    h.carriers.splice(h.carriers.indexOf(b), 1);
    h.clock.advance(15_000);
    await eventually(() => h.bindings.size === 0, 'trunk2 unbound when removed');
    assert.deepEqual([...h.regs.statuses().keys()], []);
    assert.deepEqual(h.errors, []);
  });
});

test('a changed carrier is registered afresh: the old binding goes, the new one uses the new settings', async () => {
  await withRegistrar(async (h) => {
    const a = carrier(h.registrarPort);
    h.carriers.push(a);
    await h.regs.start();
    await eventually(() => h.bindings.has('sip:trunk1@carrier.test'), 'trunk1 bound');
    const before = h.seen.length;

    a.fromDomain = 'other.test';
    a.registerExpires = 120;
    h.clock.advance(15_000);
    await eventually(() => h.bindings.has('sip:trunk1@other.test') && !h.bindings.has('sip:trunk1@carrier.test'), 'rebound under the new AOR');
    const after = h.seen.slice(before);
    assert.equal(after[0]!.headers.get('expires'), '0', 'the old binding is removed first');
    assert.equal(after.at(-1)!.headers.get('expires'), '120');
    assert.equal(after.at(-1)!.uri, 'sip:other.test');
    const status = await eventually(() => h.regs.status(a.sid)?.state === 'registered' && h.regs.status(a.sid), 'registered again');
    assert.equal(status.expiresAt, new Date(NOW.getTime() + 120_000).toISOString());

    // A sync with nothing changed leaves the binding alone: no REGISTER at all.
    const count = h.seen.length;
    h.clock.advance(15_000);
    await h.regs.sync();
    assert.equal(h.seen.length, count);
  });
});

test('a refused password shows as failed with the reason; a store error keeps what is registered', async () => {
  await withRegistrar(async (h) => {
    const good = carrier(h.registrarPort);
    const bad = carrier(h.registrarPort, { username: 'trunk2', password: 'wrong' });
    h.carriers.push(good, bad);
    await h.regs.start();
    const failed = await eventually(() => h.regs.status(bad.sid)?.state === 'failed' && h.regs.status(bad.sid), 'trunk2 failed');
    assert.equal(failed.expiresAt, null);
    assert.match(failed.lastError ?? '', /^403 /);
    await eventually(() => h.regs.status(good.sid)?.state === 'registered', 'trunk1 registered');

    h.failStore.on = true;
    h.clock.advance(15_000);
    await eventually(() => h.errors.length > 0, 'the store error reported');
    assert.equal(h.errors[0]!.message, 'store unavailable');
    assert.equal(h.regs.status(good.sid)?.state, 'registered', 'kept through a failed sync');
    assert.ok(h.bindings.has('sip:trunk1@carrier.test'));
    h.failStore.on = false;
  });
});
