/**
 * SIP over TLS with a real softphone: baresip (libre's TLS) calls Patchbay on its TLS port and hears
 * the application's <Play> (cross-correlation and duration, as in baresip-audio.test.ts), and
 * Patchbay calls a baresip that registered over TLS (REST `To=client:bob`): the INVITE goes over
 * the phone's own TLS connection and the phone hears the app's audio.
 *
 * Patchbay runs in development mode without --tls-cert, so it generates its self-signed pair in
 * <data-dir>/tls; baresip is given that certificate as its CA (`sip_cafile`). The TLS port is not
 * the UDP/TCP SIP port and speaks nothing but TLS, so a call that works at all went over TLS.
 * Digest is MD5 only: baresip 1.0 (libre 1.x) aborts on a SHA-256 challenge.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { AppServer, twiml, waitFor } from './harness/app-server.js';
import { apiGet, startPatchbay, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, type TestPatchbay } from './harness/patchbay.js';
import { baresipCall, BaresipPhone } from './harness/baresip.js';
import { assertHeardKnownClip } from './harness/known-clip.js';

const FIXTURES = join(fileURLToPath(new URL('.', import.meta.url)), 'fixtures');
const AUTH = 'Basic ' + Buffer.from(`${TEST_ACCOUNT_SID}:${TEST_AUTH_TOKEN}`).toString('base64');
const BOB_PASSWORD = 'bob-tls-password';


describe('SIP over TLS with baresip', () => {
  let app: AppServer;
  let pb: TestPatchbay;
  let tlsPort: number;
  let caFile: string;

  before(async () => {
    app = await new AppServer().start();
    app.route('/known.wav', (_r, res) => void res.writeHead(200, { 'content-type': 'audio/wav' }).end(readFileSync(join(FIXTURES, 'known-16k-stereo.wav'))));
    app.route('/play', twiml('<Response><Play>known.wav</Play><Hangup/></Response>'));
    pb = await startPatchbay({ PATCHBAY_VOICE_URL: app.url('/play'), PATCHBAY_TLS_PORT: '0', PATCHBAY_SIP_DIGEST_ALGORITHMS: 'MD5' });
    tlsPort = pb.sipTransportPorts.tls ?? 0;
    assert.ok(tlsPort > 0, 'TLS is listening');
    assert.notEqual(tlsPort, pb.sipPort);
    caFile = join(pb.dataDir, 'tls', 'dev-cert.pem');
  });

  after(async () => {
    await pb?.dispose();
    await app?.stop();
  });

  it('baresip calls the TLS port and hears the <Play>; Patchbay hangs up over the same connection', async () => {
    const r = await baresipCall({
      target: `sip:play@127.0.0.1:${tlsPort};transport=tls`,
      transport: 'tls',
      tlsCaFile: caFile,
      micWav: join(FIXTURES, 'silence-10s.wav'),
      seconds: 15,
      quitWhenCallEnds: true,
    });
    try {
      assertHeardKnownClip(r.heardWav, r.log);
      // <Hangup/>: Patchbay's BYE reached baresip (over its TLS connection: baresip has no TLS server certificate).
      await waitFor(() => pb.registry.size === 0, 5000, 'call end');
      const list = await apiGet(pb, '/v1/calls?pageSize=1');
      assert.equal(list.body.calls[0].status, 'completed');
      assert.equal(list.body.calls[0].endReason, 'hangup-verb');
      // baresip would hang up itself when its 10 s microphone ends: an earlier end is Patchbay's BYE arriving.
      const ended = /terminated \(duration: (\d+) secs?\)/.exec(r.log);
      assert.ok(ended && Number(ended[1]) < 9, `the call ended by Patchbay's BYE: ${ended?.[0] ?? 'no end in the log'}`);
    } finally {
      rmSync(r.dir, { recursive: true, force: true });
    }
  });

  it('a baresip registered over TLS receives a call to client:bob on that connection and hears the app', async () => {
    const user = await fetch(`http://127.0.0.1:${pb.httpPort}/v1/users`, {
      method: 'POST',
      headers: { authorization: AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'bob', password: BOB_PASSWORD }),
    });
    assert.equal(user.status, 201, await user.text());
    const phone = await new BaresipPhone({ registrar: tlsPort, transport: 'tls', tlsCaFile: caFile, username: 'bob', password: BOB_PASSWORD, micWav: join(FIXTURES, 'silence-10s.wav') }).start();
    try {
      assert.equal(await phone.registration(), '200 OK');
      const regs = await apiGet(pb, '/v1/registrations');
      const bob = (regs.body.registrations as { username: string; source: string }[]).find((x) => x.username === 'bob');
      assert.match(bob?.source ?? '', /^tls:127\.0\.0\.1:\d+$/, 'the binding is the TLS connection');
      const res = await fetch(`http://127.0.0.1:${pb.httpPort}/2010-04-01/Accounts/${TEST_ACCOUNT_SID}/Calls.json`, {
        method: 'POST',
        headers: { authorization: AUTH, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ To: 'client:bob', From: '+15005550006', Url: app.url('/play') }).toString(),
      });
      const call = (await res.json()) as { sid: string };
      assert.equal(res.status, 201, JSON.stringify(call));
      const record = await waitFor(async () => {
        const r = await apiGet(pb, `/v1/calls/${call.sid}`);
        return r.body.endTime ? r.body : null;
      }, 30000, 'the call to bob to end');
      assert.equal(record.status, 'completed');
      const ended = await phone.waitForLine(/terminated \(duration/, 10000, 'the call to end');
      // Its microphone lasts 10 s: an earlier end is Patchbay's BYE, sent over bob's TLS connection.
      assert.ok(Number(/duration: (\d+)/.exec(ended.text)?.[1] ?? 99) < 9, ended.text);
      assertHeardKnownClip(phone.heardWav(), phone.log);
    } finally {
      await phone.dispose();
    }
  });
});

describe('the TLS certificate at start', () => {
  it('production without --tls-cert runs no TLS/WSS (WS still listens); a configured certificate that cannot be read stops the start', async () => {
    const pb = await startPatchbay({ PATCHBAY_MODE: 'production', PATCHBAY_TLS_PORT: '0', PATCHBAY_WS_PORT: '0', PATCHBAY_WSS_PORT: '0' });
    try {
      assert.equal(pb.sipTransportPorts.tls, null);
      assert.equal(pb.sipTransportPorts.wss, null);
      assert.ok((pb.sipTransportPorts.ws ?? 0) > 0);
    } finally {
      await pb.dispose();
    }
    const dir = mkdtempSync(join(tmpdir(), 'patchbay-badcert-'));
    try {
      await assert.rejects(
        startPatchbay({ PATCHBAY_TLS_PORT: '0', PATCHBAY_TLS_CERT: '/nonexistent/cert.pem', PATCHBAY_TLS_KEY: '/nonexistent/key.pem' }, dir),
        (err: Error & { code?: string }) => err.code === 'TLS_CERTIFICATE_INVALID' && /cannot read the TLS key \/nonexistent\/key\.pem: ENOENT/.test(err.message),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
