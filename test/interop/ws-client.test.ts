/**
 * A browser-style SIP-over-WebSocket client (RFC 7118) against a real Patchbay, over WS and WSS.
 *
 * The client is written here with the `ws` package and sends what JsSIP sends: Via
 * `SIP/2.0/WS abcd.invalid`, Contact `<sip:xyz@abcd.invalid;transport=ws>` (also on WSS, as
 * JsSIP does), +sip.instance and reg-id. It REGISTERs as a SIP user created through /v1/users
 * (answering the 401), places a call that the user's application answers with <Say> (answering
 * the 407), ACKs the 200, receives the speech as RTP on the UDP port its SDP advertised, and hangs
 * up with BYE. Then a REST call to `client:alice` reaches it over the same WebSocket, and
 * Patchbay's BYE too. WSS uses Patchbay's development certificate (self-signed, so the client
 * passes rejectUnauthorized: false, as a developer's browser would after accepting it).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { authorizationFor, pickChallenge } from '../../src/sip/digest.js';
import { parseDatagram } from '../../src/sip/parser.js';
import { parseNameAddr } from '../../src/sip/header-values.js';
import type { SipMessage, SipRequest, SipResponse } from '../../src/sip/message.js';
import { AppServer, twiml, waitFor } from './harness/app-server.js';
import { apiGet, startPatchbay, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, type TestPatchbay } from './harness/patchbay.js';
import { RtpSink } from './harness/rtp-sink.js';

const AUTH = 'Basic ' + Buffer.from(`${TEST_ACCOUNT_SID}:${TEST_AUTH_TOKEN}`).toString('base64');
const PASSWORD = 'alice-browser-secret';
const rand = (): string => randomBytes(6).toString('hex');

/** A SIP user agent speaking over one WebSocket, one SIP message per frame. */
class BrowserPhone {
  private readonly inbox: SipMessage[] = [];
  private wake: (() => void) | null = null;
  readonly frames: { binary: boolean }[] = [];

  private constructor(
    readonly ws: WebSocket,
    readonly via: 'WS' | 'WSS',
  ) {
    ws.on('message', (data, binary) => {
      this.frames.push({ binary });
      const out = parseDatagram(data as Buffer);
      if (out.ok) this.inbox.push(out.message);
      this.wake?.();
    });
  }

  static async connect(url: string, via: 'WS' | 'WSS'): Promise<BrowserPhone> {
    const ws = new WebSocket(url, 'sip', { rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    assert.equal(ws.protocol, 'sip');
    return new BrowserPhone(ws, via);
  }

  send(lines: string[], body = ''): void {
    const head = [...lines, `Content-Length: ${Buffer.byteLength(body)}`, '', ''].join('\r\n');
    this.ws.send(head + body);
  }

  /** The next message matching `pred` (already received or still to come). */
  async next<T extends SipMessage>(pred: (m: SipMessage) => m is T, what: string, timeoutMs = 15000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex(pred);
      if (i >= 0) return this.inbox.splice(i, 1)[0] as T;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((r) => {
        this.wake = r;
        setTimeout(r, 100);
      });
    }
  }

  response(callId: string, method: string, minStatus = 200): Promise<SipResponse> {
    return this.next((m): m is SipResponse => m.kind === 'response' && m.status >= minStatus && m.headers.get('call-id') === callId && (m.headers.get('cseq') ?? '').endsWith(method), `a ${method} response`);
  }

  request(method: string, callId?: string): Promise<SipRequest> {
    return this.next((m): m is SipRequest => m.kind === 'request' && m.method === method && (callId === undefined || m.headers.get('call-id') === callId), `a ${method} request`);
  }

  viaLine(): string {
    return `Via: SIP/2.0/${this.via} abcd.invalid;branch=z9hG4bK${rand()}`;
  }

  /** Answers `req` with `status`, copying Via, From, Call-ID and CSeq (RFC 3261 §8.2.6.2). */
  reply(req: SipRequest, status: number, reason: string, extra: string[] = [], body = ''): void {
    const to = req.headers.get('to') ?? '';
    this.send(
      [
        `SIP/2.0 ${status} ${reason}`,
        ...req.headers.getAll('via').map((v) => `Via: ${v}`),
        `From: ${req.headers.get('from')}`,
        `To: ${/;tag=/.test(to) ? to : `${to};tag=${rand()}`}`,
        `Call-ID: ${req.headers.get('call-id')}`,
        `CSeq: ${req.headers.get('cseq')}`,
        ...extra,
      ],
      body,
    );
  }

  close(): void {
    this.ws.terminate();
  }
}

const CONTACT = '<sip:xyz@abcd.invalid;transport=ws>';
const INSTANCE = '+sip.instance="<urn:uuid:0b6bd1b4-8c3e-4f4e-9d2a-7a1f3c2d4e5f>"';

function sdp(port: number): string {
  return ['v=0', 'o=- 4000 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP 0 101`, 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', 'a=sendrecv', ''].join('\r\n');
}

/** REGISTERs alice (answering the 401 digest challenge); resolves with the 200. */
async function register(phone: BrowserPhone): Promise<SipResponse> {
  const callId = `reg-${rand()}`;
  const tag = rand();
  const lines = (cseq: number, auth: string[]): string[] => [
    'REGISTER sip:127.0.0.1 SIP/2.0',
    phone.viaLine(),
    'Max-Forwards: 69',
    'To: <sip:alice@127.0.0.1>',
    `From: "Alice" <sip:alice@127.0.0.1>;tag=${tag}`,
    `Call-ID: ${callId}`,
    `CSeq: ${cseq} REGISTER`,
    `Contact: ${CONTACT};+sip.ice;reg-id=1;${INSTANCE};expires=600`,
    'Expires: 600',
    'Allow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY',
    'Supported: path,gruu,outbound',
    'User-Agent: JsSIP 3.10.0',
    ...auth,
  ];
  phone.send(lines(1, []));
  const challenged = await phone.response(callId, 'REGISTER');
  assert.equal(challenged.status, 401);
  const challenge = pickChallenge(challenged.headers.getAll('www-authenticate'));
  assert.ok(challenge);
  phone.send(lines(2, [`Authorization: ${authorizationFor(challenge, { username: 'alice', password: PASSWORD }, 'REGISTER', 'sip:127.0.0.1', 1)}`]));
  return phone.response(callId, 'REGISTER');
}

/** The call the client places: INVITE, 407 answered, 200, ACK; RTP arrives; BYE from the client. */
async function callOut(phone: BrowserPhone, sink: RtpSink): Promise<{ ok: SipResponse; bye: SipResponse }> {
  const callId = `call-${rand()}`;
  const tag = rand();
  const uri = 'sip:+15550001111@127.0.0.1';
  const lines = (cseq: number, method: string, via: string, extra: string[], requestUri = uri, to = `<${uri}>`): string[] => [
    `${method} ${requestUri} SIP/2.0`,
    via,
    'Max-Forwards: 69',
    `To: ${to}`,
    `From: "Alice" <sip:alice@127.0.0.1>;tag=${tag}`,
    `Call-ID: ${callId}`,
    `CSeq: ${cseq} ${method}`,
    ...extra,
  ];
  const inviteHeaders = [`Contact: ${CONTACT};+sip.ice`, 'Content-Type: application/sdp', 'Allow: INVITE,ACK,CANCEL,BYE,UPDATE,MESSAGE,OPTIONS,REFER,INFO,NOTIFY', 'User-Agent: JsSIP 3.10.0'];
  const firstVia = phone.viaLine();
  phone.send(lines(1, 'INVITE', firstVia, inviteHeaders), sdp(sink.port));
  const challenged = await phone.response(callId, 'INVITE');
  assert.ok(challenged.status === 407 || challenged.status === 401, `challenge, got ${challenged.status}`);
  // §17.1.1.3: the ACK for a non-2xx reuses the INVITE's branch and takes the response's To.
  phone.send(lines(1, 'ACK', firstVia, [], uri, challenged.headers.get('to')));
  const proxy = challenged.status === 407;
  const challenge = pickChallenge(challenged.headers.getAll(proxy ? 'proxy-authenticate' : 'www-authenticate'));
  assert.ok(challenge);
  const credentials = authorizationFor(challenge, { username: 'alice', password: PASSWORD }, 'INVITE', uri, 1);
  phone.send(lines(2, 'INVITE', phone.viaLine(), [...inviteHeaders, `${proxy ? 'Proxy-Authorization' : 'Authorization'}: ${credentials}`]), sdp(sink.port));
  const ok = await phone.response(callId, 'INVITE');
  assert.equal(ok.status, 200, `INVITE answered ${ok.status}`);
  assert.match(ok.body.toString(), /m=audio \d+ RTP\/AVP 0/);
  const target = parseNameAddr(ok.headers.get('contact') ?? '')?.uri;
  assert.ok(target, 'the 200 has a Contact');
  const to = ok.headers.get('to') ?? '';
  phone.send(lines(2, 'ACK', phone.viaLine(), [], target, to));
  await waitFor(() => sink.packets.length >= 50, 15000, 'a second of the <Say> as RTP');
  phone.send(lines(3, 'BYE', phone.viaLine(), [], target, to));
  const bye = await phone.response(callId, 'BYE');
  return { ok, bye };
}

/** POST …/Calls.json to client:alice; the call SID. */
async function callClient(pb: TestPatchbay, url: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${pb.httpPort}/2010-04-01/Accounts/${TEST_ACCOUNT_SID}/Calls.json`, {
    method: 'POST',
    headers: { authorization: AUTH, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ To: 'client:alice', From: '+15005550006', Url: url }).toString(),
  });
  const body = (await res.json()) as Record<string, unknown>;
  assert.equal(res.status, 201, JSON.stringify(body));
  return body.sid as string;
}

async function endedCall(pb: TestPatchbay, sid: string): Promise<{ status: string; duration: number | null }> {
  return waitFor(async () => {
    const r = await apiGet(pb, `/v1/calls/${sid}`);
    return r.status === 200 && r.body.endTime ? r.body : null;
  }, 20000, `the record of ${sid}`);
}

for (const scheme of ['ws', 'wss'] as const) {
  describe(`a browser-style SIP client over ${scheme.toUpperCase()}`, () => {
    let pb: TestPatchbay;
    let app: AppServer;
    let phone: BrowserPhone;

    before(async () => {
      app = await new AppServer().start();
      app.route('/user', twiml('<Response><Say>Hello from Patchbay over a web socket.</Say><Pause length="20"/></Response>'));
      app.route('/outbound', twiml('<Response><Say>This call reached your browser.</Say></Response>'));
      pb = await startPatchbay(scheme === 'ws' ? { PATCHBAY_WS_PORT: '0' } : { PATCHBAY_WSS_PORT: '0' });
      const user = await fetch(`http://127.0.0.1:${pb.httpPort}/v1/users`, {
        method: 'POST',
        headers: { authorization: AUTH, 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'alice', password: PASSWORD, voiceUrl: app.url('/user') }),
      });
      assert.equal(user.status, 201, await user.text());
      const port = pb.sipTransportPorts[scheme];
      assert.ok(port, `${scheme} is listening`);
      phone = await BrowserPhone.connect(`${scheme}://127.0.0.1:${port}`, scheme === 'ws' ? 'WS' : 'WSS');
    });

    after(async () => {
      phone?.close();
      await pb?.dispose();
      await app?.stop();
    });

    it('registers with digest; the binding is the WebSocket connection', async () => {
      const ok = await register(phone);
      assert.equal(ok.status, 200);
      assert.match(ok.headers.get('contact') ?? '', /abcd\.invalid/);
      const regs = await apiGet(pb, '/v1/registrations');
      assert.equal(regs.status, 200, JSON.stringify(regs.body));
      const mine = (regs.body.registrations as { username: string; contact: string; source: string }[]).find((r) => r.username === 'alice');
      assert.equal(mine?.contact, 'sip:xyz@abcd.invalid;transport=ws');
      assert.match(mine?.source ?? '', new RegExp(`^${scheme}:127\\.0\\.0\\.1:\\d+$`));
    });

    it('places a call the app answers with <Say>: 200 with SDP, ACK, RTP to the advertised port, BYE', async () => {
      const sink = await new RtpSink().start();
      try {
        const { ok, bye } = await callOut(phone, sink);
        assert.match(ok.headers.get('contact') ?? '', new RegExp(`;transport=${scheme}>?$`));
        assert.equal(bye.status, 200);
        assert.ok(sink.packets.every((p) => p.payloadType === 0), 'PCMU as offered');
        assert.ok(app.requestsTo('/user').length >= 1, "the user's application ran");
      } finally {
        await sink.close();
      }
      assert.ok(phone.frames.every((f) => !f.binary), 'Patchbay sends SIP as text frames');
    });

    it('receives a REST call to client:alice over its WebSocket, and the BYE when the document ends', async () => {
      const sink = await new RtpSink().start();
      try {
        const sid = await callClient(pb, app.url('/outbound'));
        const invite = await phone.request('INVITE');
        assert.equal(invite.uri, 'sip:xyz@abcd.invalid;transport=ws', 'the Request-URI is the registered Contact');
        assert.match(invite.headers.get('via') ?? '', new RegExp(`^SIP/2\\.0/${scheme.toUpperCase()} 127\\.0\\.0\\.1:${pb.sipTransportPorts[scheme]};`));
        assert.match(invite.headers.get('contact') ?? '', new RegExp(`:${pb.sipTransportPorts[scheme]};transport=${scheme}>`));
        phone.reply(invite, 180, 'Ringing');
        phone.reply(invite, 200, 'OK', [`Contact: ${CONTACT}`, 'Content-Type: application/sdp'], sdp(sink.port));
        const callId = invite.headers.get('call-id');
        await phone.request('ACK', callId);
        await waitFor(() => sink.packets.length >= 25, 15000, 'the <Say> as RTP');
        // The document ends after the <Say>: Patchbay hangs up, over the same WebSocket (the .invalid Contact was never dialled).
        const bye = await phone.request('BYE', callId);
        phone.reply(bye, 200, 'OK');
        const record = await endedCall(pb, sid);
        assert.equal(record.status, 'completed');
      } finally {
        await sink.close();
      }
    });
  });
}
