/**
 * Every request a real Patchbay makes to an application is signed, and connections to apps follow
 * the egress policy, end to end (SIPp calls an in-process Patchbay):
 *  - one call drives each kind of request: the voice URL (failing), the fallback, a Media Stream's
 *    handshake and its status callbacks, a <Gather> action, a GET <Redirect>, a <Record> action,
 *    its recording status callback and transcription callback, a <Dial> action, and the call's
 *    status callbacks; every one must carry an X-Twilio-Signature that the `twilio` package's
 *    validateRequest accepts and that an HMAC computed here independently equals. <Play> media
 *    GETs are not signed (shared, cached across accounts: README "Hardening for the internet").
 *  - an https:// voice URL with a self-signed certificate fails with 11237 and the fallback runs;
 *    with --webhook-ca the same app answers.
 *  - with --block-private-webhooks, a voice URL on loopback (by address and as `localhost`) is
 *    refused (11200 in the call's events, the fallback on an allowed network runs) and never
 *    reached; <Play> and <Stream> URLs on loopback are refused too.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import twilio from 'twilio';
import { encodeWav } from '../../src/media/wav.js';
import { AppServer, twiml, waitFor, type RecordedRequest } from './harness/app-server.js';
import { startPatchbay, apiGet, TEST_AUTH_TOKEN, type TestPatchbay } from './harness/patchbay.js';
import { runSipp } from './harness/sipp.js';
import { StreamAgent } from './harness/stream-agent.js';
import { TestAppServer, xml } from '../webhooks/test-app-server.js';
import { selfSignedCertificate } from '../webhooks/tls-fixture.js';

const WAV = encodeWav(new Int16Array(1600), 8000);

/** The signature computed here from the definition (twilio-voice.md §5), not with Patchbay's code. */
function independentSignature(url: string, params: Record<string, string>): string {
  const data = url + Object.keys(params).sort().map((k) => k + params[k]).join('');
  return createHmac('sha1', TEST_AUTH_TOKEN).update(data, 'utf8').digest('base64');
}

function assertSigned(r: RecordedRequest): void {
  const signature = String(r.headers['x-twilio-signature'] ?? '');
  const params = r.method === 'GET' ? {} : r.params;
  assert.ok(signature, `${r.method} ${r.path} carries no X-Twilio-Signature`);
  assert.equal(twilio.validateRequest(TEST_AUTH_TOKEN, signature, r.url, params), true, `${r.method} ${r.url}: twilio.validateRequest refused it`);
  assert.equal(signature, independentSignature(r.url, params), `${r.method} ${r.url}`);
}

async function callOnce(pb: TestPatchbay): Promise<Record<string, any>> {
  const r = await runSipp({ scenario: 'uac-app-hangs-up.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 1, rate: 1, timeoutSeconds: 60 });
  await waitFor(() => pb.registry.size === 0, 15000, 'call to end');
  const list = await apiGet(pb, '/v1/calls?pageSize=1');
  const rec = (await apiGet(pb, `/v1/calls/${list.body.calls[0].sid}`)).body;
  assert.equal(r.failed, 0, `${r.errors}\nevents: ${JSON.stringify(rec.events)}`);
  return rec;
}

describe('every request to the app is signed', () => {
  let app: AppServer;
  let agent: StreamAgent;
  let pb: TestPatchbay;

  before(async () => {
    app = await new AppServer().start();
    agent = await new StreamAgent().start();
    app.route('/voice', (_r, res) => void res.writeHead(500).end('boom'));
    app.route('/fallback', twiml(
      `<Response><Start><Stream name="fork" url="${agent.url('/fork')}" statusCallback="/stream-status"/></Start>` +
      '<Gather input="dtmf" timeout="1" action="/gather-action" actionOnEmptyResult="true"/></Response>',
    ));
    app.route('/gather-action', twiml('<Response><Redirect method="GET">/redirected?step=2</Redirect></Response>'));
    app.route('/redirected', twiml(
      '<Response><Record maxLength="2" timeout="0" playBeep="false" trim="do-not-trim" action="/record-action" ' +
      'recordingStatusCallback="/recording-status" transcribe="true" transcribeCallback="/transcription"/></Response>',
    ));
    app.route('/record-action', twiml('<Response><Dial action="/dial-action" timeout="5"><Client>nobody-registered</Client></Dial></Response>'));
    app.route('/dial-action', twiml(`<Response><Stop><Stream name="fork"/></Stop><Play>${app.url('/media.wav')}</Play><Hangup/></Response>`));
    app.route('/media.wav', (_r, res) => void res.writeHead(200, { 'content-type': 'audio/wav', 'cache-control': 'no-store' }).end(WAV));
    for (const path of ['/stream-status', '/recording-status', '/transcription', '/status']) app.route(path, (_r, res) => void res.writeHead(204).end());
    pb = await startPatchbay({
      PATCHBAY_VOICE_URL: app.url('/voice'),
      PATCHBAY_FALLBACK_URL: app.url('/fallback'),
      PATCHBAY_STATUS_CALLBACK: app.url('/status'),
      PATCHBAY_STATUS_CALLBACK_EVENT: 'initiated ringing answered completed',
    });
  });
  after(async () => {
    await pb?.dispose();
    await agent?.stop();
    await app?.stop();
  });

  it('signs documents, actions, redirects, fallbacks, stream handshakes and every callback', async () => {
    const rec = await callOnce(pb);
    // Background callbacks may still be on their way when the call has ended.
    await waitFor(() => app.requestsTo('/status').some((r) => r.params.CallStatus === 'completed'), 10000, 'completed status callback');
    await waitFor(() => app.requestsTo('/transcription').length > 0, 30000, 'transcription callback');
    await waitFor(() => app.requestsTo('/recording-status').length > 0, 10000, 'recording status callback');
    await waitFor(() => app.requestsTo('/stream-status').some((r) => r.params.StreamEvent === 'stream-stopped'), 10000, 'stream-stopped callback');

    const expected = ['/voice', '/fallback', '/gather-action', '/redirected', '/record-action', '/dial-action', '/stream-status', '/recording-status', '/transcription', '/status'];
    for (const path of expected) assert.ok(app.requestsTo(path).length > 0, `no request to ${path}; events: ${JSON.stringify(rec.events?.map((e: any) => e.type))}`);
    assert.equal(app.requestsTo('/redirected')[0]!.method, 'GET', 'the redirect was a GET (signed over its query)');

    const signedRequests = app.requests.filter((r) => r.path !== '/media.wav');
    for (const r of signedRequests) assertSigned(r);
    assert.ok(app.requestsTo('/status').length >= 2 && app.requestsTo('/stream-status').length >= 2, 'several status callbacks of each kind were checked');

    // The Media Stream handshake: signed over the ws:// URL without parameters.
    const upgrade = agent.upgrades[0]!;
    const wsUrl = agent.url('/fork');
    assert.equal(twilio.validateRequest(TEST_AUTH_TOKEN, String(upgrade.headers['x-twilio-signature']), wsUrl, {}), true);
    assert.equal(upgrade.headers['x-twilio-signature'], independentSignature(wsUrl, {}));

    // <Play> media: fetched, and (as documented) not signed.
    const media = app.requestsTo('/media.wav');
    assert.equal(media.length, 1);
    assert.equal(media[0]!.headers['x-twilio-signature'], undefined);
  });
});

describe('app connections: certificates and private addresses', () => {
  let inside: AppServer; // 127.0.0.1: "the internal network"
  let outside: TestAppServer; // 127.0.0.2: an allowed network
  let agent: StreamAgent;
  let https: HttpsServer;
  let httpsBase: string;
  let caDir: string;
  let plain: TestPatchbay;
  let hardened: TestPatchbay;

  before(async () => {
    const pair = selfSignedCertificate();
    caDir = mkdtempSync(join(tmpdir(), 'pb-ca-'));
    writeFileSync(join(caDir, 'ca.pem'), pair.cert);
    https = createHttpsServer({ cert: pair.cert, key: pair.key }, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/xml' }).end('<Response><Say>Secure hello.</Say><Hangup/></Response>');
    });
    await new Promise<void>((r) => https.listen(0, '127.0.0.2', r));
    httpsBase = `https://127.0.0.2:${(https.address() as AddressInfo).port}`;
    inside = await new AppServer().start();
    inside.route('/voice', twiml('<Response><Say>Internal.</Say><Hangup/></Response>'));
    agent = await new StreamAgent().start();
    outside = await new TestAppServer({
      '/fallback': (_r, res) => xml(res, '<Response><Say>Fallback.</Say><Hangup/></Response>'),
      '/play-inside': (_r, res) => xml(res, `<Response><Play>${inside.url('/a.wav')}</Play><Start><Stream url="${agent.url('/s')}"/></Start><Pause length="1"/><Hangup/></Response>`),
    }, '127.0.0.2').start();
    plain = await startPatchbay({ PATCHBAY_VOICE_URL: `${httpsBase}/voice`, PATCHBAY_FALLBACK_URL: inside.url('/fallback-plain') });
    inside.route('/fallback-plain', twiml('<Response><Say>Fallback.</Say><Hangup/></Response>'));
    hardened = await startPatchbay({
      PATCHBAY_VOICE_URL: `${httpsBase}/voice`,
      PATCHBAY_FALLBACK_URL: `${outside.base}/fallback`,
      PATCHBAY_BLOCK_PRIVATE_WEBHOOKS: 'true',
      PATCHBAY_WEBHOOK_ALLOWED_NETWORKS: '127.0.0.2',
      PATCHBAY_WEBHOOK_CA: join(caDir, 'ca.pem'),
    });
  });
  after(async () => {
    await plain?.dispose();
    await hardened?.dispose();
    await outside?.close();
    await inside?.stop();
    await agent?.stop();
    https?.closeAllConnections();
    await new Promise((r) => https?.close(r));
    rmSync(caDir, { recursive: true, force: true });
  });

  it('a self-signed https app fails with 11237 and the fallback runs', async () => {
    const rec = await callOnce(plain);
    assert.equal(rec.errorCode, 11237, JSON.stringify(rec.events?.filter((e: any) => e.type === 'error' || e.type.startsWith('webhook'))));
    const fb = inside.requestsTo('/fallback-plain');
    assert.equal(fb.length, 1);
    assert.equal(fb[0]!.params.ErrorCode, '11237');
  });

  it('the same app answers once its CA is trusted (--webhook-ca)', async () => {
    const rec = await callOnce(hardened);
    assert.equal(rec.errorCode, null, JSON.stringify(rec.events?.filter((e: any) => e.type === 'error')));
    assert.equal(outside.requests.filter((r) => r.path === '/fallback').length, 0, 'no fallback needed');
  });

  it('refuses loopback voice URLs (11200), runs the fallback, and never reaches the internal app', async () => {
    for (const url of [inside.url('/voice'), `http://localhost:${inside.port}/voice`, `http://[::ffff:127.0.0.1]:${inside.port}/voice`]) {
      const before = outside.requests.length;
      hardened.config.voiceUrl = url;
      const rec = await callOnce(hardened);
      assert.equal(rec.errorCode, 11200, url);
      const error = rec.events.find((e: any) => e.type === 'error' || (e.detail?.errorCode === 11200));
      assert.match(JSON.stringify(error ?? rec.events), /block-private-webhooks/, url);
      const fb = outside.requests.slice(before).filter((r) => r.path === '/fallback');
      assert.equal(fb.length, 1, url);
      assert.equal(fb[0]!.params.ErrorCode, '11200');
    }
    assert.equal(inside.requestsTo('/voice').length, 0);
  });

  it('refuses <Play> and <Stream> URLs on loopback', async () => {
    hardened.config.voiceUrl = `${outside.base}/play-inside`;
    const upgradesBefore = agent.upgrades.length;
    const rec = await callOnce(hardened);
    const text = JSON.stringify(rec.events);
    assert.match(text, /blocked-address/, 'the <Play> warning names the reason');
    assert.match(text, /31920/, 'the stream failed its handshake');
    assert.equal(inside.requestsTo('/a.wav').length, 0);
    assert.equal(agent.upgrades.length, upgradesBefore);
  });
});
