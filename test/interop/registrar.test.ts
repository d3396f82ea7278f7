/**
 * The registrar against real SIP clients over loopback, on a real Patchbay: a SIP user created
 * through /v1/users registers and the API lists its binding; wrong credentials get 403 and bind
 * nothing; a short registration disappears on time; two devices of one user; unregistering.
 *
 * Clients: a minimal UDP phone written here (it answers SHA-256, the algorithm Patchbay prefers),
 * SIPp with hand-written bogus credentials, and baresip and SIPp's own digest on a server started
 * with PATCHBAY_SIP_DIGEST_ALGORITHMS=MD5: baresip 1.0 (libre 1.x) and SIPp 3.6 abort on any
 * SHA-256 challenge. Each suite first checks which algorithms its server really offers.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { authorizationFor, parseChallenge, pickChallenge } from '../../src/sip/digest.js';
import { parseDatagram } from '../../src/sip/parser.js';
import type { SipResponse } from '../../src/sip/message.js';
import { waitFor } from './harness/app-server.js';
import { apiGet, startPatchbay, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, type TestPatchbay } from './harness/patchbay.js';
import { runSipp } from './harness/sipp.js';
import { BaresipPhone } from './harness/baresip.js';

interface ApiRegistration {
  userSid: string;
  username: string;
  contact: string;
  source: string;
  userAgent: string | null;
  expiresIn: number;
}

async function apiPost(pb: TestPatchbay, path: string, body: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${pb.httpPort}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Basic ' + Buffer.from(`${TEST_ACCOUNT_SID}:${TEST_AUTH_TOKEN}`).toString('base64') },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json() };
}

async function registrationsOf(pb: TestPatchbay, userSid: string): Promise<ApiRegistration[]> {
  const r = await apiGet(pb, `/v1/users/${userSid}/registrations`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.registrations as ApiRegistration[];
}

/** A minimal UDP phone: one Call-ID, CSeq counting up, answers a 401 once per REGISTER. */
class UdpPhone {
  private readonly socket: Socket = createSocket('udp4');
  private cseq = 0;
  private readonly callId = `phone-${Math.random().toString(36).slice(2)}@127.0.0.1`;
  private waiting: ((res: SipResponse) => void) | null = null;
  port = 0;

  constructor(
    private readonly server: number,
    private readonly username: string,
    private readonly password: string,
  ) {
    this.socket.on('message', (buf) => {
      const out = parseDatagram(buf);
      if (out.ok && out.message.kind === 'response' && out.message.status >= 200) this.waiting?.(out.message);
    });
  }

  async open(): Promise<this> {
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve));
    this.port = this.socket.address().port;
    return this;
  }

  close(): void {
    this.socket.close();
  }

  /** Sends one REGISTER (Contact = this phone unless `contact` is given), answering a challenge. */
  async register(expires: number, opts: { contact?: string; password?: string } = {}): Promise<SipResponse> {
    const first = await this.sendRegister(expires, opts.contact, null);
    if (first.status !== 401) return first;
    const challenge = pickChallenge(first.headers.getAll('www-authenticate'));
    assert.ok(challenge, 'a 401 carries a challenge we can answer');
    const uri = `sip:127.0.0.1:${this.server}`;
    return this.sendRegister(expires, opts.contact, authorizationFor(challenge, { username: this.username, password: opts.password ?? this.password }, 'REGISTER', uri, 1));
  }

  /** One REGISTER as given, resolving to its final response. */
  sendRegister(expires: number, contact: string | undefined, authorization: string | null): Promise<SipResponse> {
    this.cseq++;
    const text = [
      `REGISTER sip:127.0.0.1:${this.server} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${this.port};branch=z9hG4bK-${this.cseq}-${Math.random().toString(36).slice(2)}`,
      'Max-Forwards: 70',
      `From: <sip:${this.username}@127.0.0.1>;tag=p${this.port}`,
      `To: <sip:${this.username}@127.0.0.1>`,
      `Call-ID: ${this.callId}`,
      `CSeq: ${this.cseq} REGISTER`,
      `Contact: ${contact ?? `<sip:${this.username}@127.0.0.1:${this.port}>`}`,
      `Expires: ${expires}`,
      'User-Agent: UdpPhone/1.0',
      ...(authorization ? [`Authorization: ${authorization}`] : []),
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no final response to REGISTER')), 5000);
      this.waiting = (res) => {
        clearTimeout(timer);
        this.waiting = null;
        resolve(res);
      };
      this.socket.send(text, this.server, '127.0.0.1');
    });
  }
}

/** Starts Patchbay, creates alice and bob through /v1/users, and reads the algorithms its challenge offers. */
async function setUp(overrides: Record<string, string>): Promise<{ pb: TestPatchbay; alice: string; bob: string; offered: (string | undefined)[] }> {
  const pb = await startPatchbay({ PATCHBAY_REGISTER_MIN_EXPIRES: '1', ...overrides });
  const users: string[] = [];
  for (const username of ['alice', 'bob']) {
    const r = await apiPost(pb, '/v1/users', { username, password: `${username}-password` });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    users.push(r.body.sid as string);
  }
  const probe = await new UdpPhone(pb.sipPort, 'alice', 'x').open();
  try {
    const res = await probe.sendRegister(60, undefined, null); // just the challenge
    assert.equal(res.status, 401);
    const offered = res.headers.getAll('www-authenticate').map((v) => parseChallenge(v)?.algorithm);
    return { pb, alice: users[0]!, bob: users[1]!, offered };
  } finally {
    probe.close();
  }
}

describe('registrar: a UDP phone and SIPp on the default (SHA-256, MD5) server', () => {
  let pb: TestPatchbay;
  let alice: string;
  let bob: string;
  let offered: (string | undefined)[];

  before(async () => {
    ({ pb, alice, bob, offered } = await setUp({}));
  });
  after(async () => {
    await pb?.dispose();
  });

  it('challenges with SHA-256 first, then MD5 (RFC 8760 §2.4)', () => {
    assert.deepEqual(offered, ['SHA-256', 'MD5']);
  });

  it('registers with the right password, the API lists the binding, Expires: 0 removes it', async () => {
    const phone = await new UdpPhone(pb.sipPort, 'alice', 'alice-password').open();
    try {
      const ok = await phone.register(600);
      assert.equal(ok.status, 200);
      assert.deepEqual(ok.headers.getAll('contact'), [`<sip:alice@127.0.0.1:${phone.port}>;expires=600`]);
      const [b, ...rest] = await registrationsOf(pb, alice);
      assert.deepEqual(rest, []);
      assert.equal(b?.username, 'alice');
      assert.equal(b?.contact, `sip:alice@127.0.0.1:${phone.port}`);
      assert.equal(b?.source, `udp:127.0.0.1:${phone.port}`);
      assert.equal(b?.userAgent, 'UdpPhone/1.0');
      assert.ok(b!.expiresIn > 590 && b!.expiresIn <= 600, `expiresIn ${b?.expiresIn}`);
      assert.deepEqual(await registrationsOf(pb, bob), []);

      assert.equal((await phone.register(0)).status, 200);
      assert.deepEqual(await registrationsOf(pb, alice), []);
    } finally {
      phone.close();
    }
  });

  it('refuses a wrong password (own phone) and bogus credentials (SIPp) with 403, binding nothing', async () => {
    const phone = await new UdpPhone(pb.sipPort, 'bob', 'bob-password').open();
    try {
      assert.equal((await phone.register(600, { password: 'not-the-password' })).status, 403);
    } finally {
      phone.close();
    }
    const r = await runSipp({ scenario: 'register-bogus-credentials.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 1, keys: { user: 'bob', realm: pb.config.sipRealm }, timeoutSeconds: 10 });
    assert.equal(r.successful, 1, `SIPp: ${r.errors}`);
    assert.deepEqual(await registrationsOf(pb, bob), []);
  });

  it('drops a 2-second registration on time', async () => {
    const phone = await new UdpPhone(pb.sipPort, 'bob', 'bob-password').open();
    try {
      const registered = Date.now();
      assert.equal((await phone.register(2)).status, 200);
      assert.equal((await registrationsOf(pb, bob)).length, 1);
      await waitFor(async () => (await registrationsOf(pb, bob)).length === 0, 10000, 'the binding to expire');
      // Not before its time (the registrar's timer), and not much after (the poll is every 25 ms).
      assert.ok(Date.now() - registered >= 1900, `gone after ${Date.now() - registered} ms`);
    } finally {
      phone.close();
    }
  });

  it('lists two devices of one user, each with its own Contact', async () => {
    const desk = await new UdpPhone(pb.sipPort, 'alice', 'alice-password').open();
    const mobile = await new UdpPhone(pb.sipPort, 'alice', 'alice-password').open();
    try {
      assert.equal((await desk.register(600)).status, 200);
      const second = await mobile.register(300);
      assert.equal(second.status, 200);
      assert.equal(second.headers.getAll('contact').length, 2, 'the 200 lists both bindings');
      const list = await registrationsOf(pb, alice);
      assert.deepEqual(list.map((b) => b.source).sort(), [`udp:127.0.0.1:${desk.port}`, `udp:127.0.0.1:${mobile.port}`].sort());
      assert.equal((await mobile.register(0)).status, 200);
      assert.deepEqual((await registrationsOf(pb, alice)).map((b) => b.source), [`udp:127.0.0.1:${desk.port}`]);
      assert.equal((await desk.register(0)).status, 200);
    } finally {
      desk.close();
      mobile.close();
    }
  });
});

describe('registrar: baresip and SIPp digest on an MD5-only server', () => {
  let pb: TestPatchbay;
  let alice: string;
  let bob: string;
  let offered: (string | undefined)[];

  before(async () => {
    ({ pb, alice, bob, offered } = await setUp({ PATCHBAY_SIP_DIGEST_ALGORITHMS: 'MD5' }));
  });
  after(async () => {
    await pb?.dispose();
  });

  /** baresip registered as `username`, until stopped (which unregisters, Expires 0). */
  function baresip(username: string, password: string): Promise<BaresipPhone> {
    return new BaresipPhone({ registrar: pb.sipPort, username, password }).start();
  }

  it('challenges with MD5 only (these clients abort on any SHA-256 challenge)', () => {
    assert.deepEqual(offered, ['MD5']);
  });

  it('baresip registers with the right password; two devices are listed; stopping unregisters', async () => {
    const one = await baresip('alice', 'alice-password');
    const two = await baresip('alice', 'alice-password');
    try {
      assert.equal(await one.registration(), '200 OK', one.log);
      assert.equal(await two.registration(), '200 OK', two.log);
      const list = await registrationsOf(pb, alice);
      assert.equal(list.length, 2, JSON.stringify(list));
      for (const b of list) {
        assert.match(b.userAgent ?? '', /^baresip/);
        assert.match(b.contact, /^sip:alice-[^@]+@127\.0\.0\.1:\d+/);
      }
      await one.stop();
      await waitFor(async () => (await registrationsOf(pb, alice)).length === 1, 10000, 'the stopped baresip to unregister');
    } finally {
      await one.dispose();
      await two.dispose();
    }
    await waitFor(async () => (await registrationsOf(pb, alice)).length === 0, 10000, 'both to unregister');
  });

  it('baresip with a wrong password gets 403 and binds nothing', async () => {
    const phone = await baresip('bob', 'wrong-password');
    try {
      assert.match(await phone.registration(), /403 Forbidden/, phone.log);
      assert.deepEqual(await registrationsOf(pb, bob), []);
    } finally {
      await phone.dispose();
    }
  });

  it('SIPp registers for 2 s with its own MD5 digest; the binding is listed, then gone on time', async () => {
    const started = Date.now();
    const r = await runSipp({ scenario: 'register-md5.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 1, keys: { user: 'bob', expires: '2' }, extra: ['-au', 'bob', '-ap', 'bob-password'], timeoutSeconds: 10 });
    assert.equal(r.successful, 1, `SIPp: ${r.errors}`);
    const listed = await registrationsOf(pb, bob);
    // SIPp exits right after the 200; the binding may only be gone if 2 s have already passed.
    if (Date.now() - started < 1500) assert.equal(listed[0]?.userAgent, 'SIPp register-md5');
    await waitFor(async () => (await registrationsOf(pb, bob)).length === 0, 10000, 'the SIPp binding to expire');
    assert.ok(Date.now() - started >= 1900);
  });
});
