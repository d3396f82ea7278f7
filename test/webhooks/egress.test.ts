/**
 * Attacks on the connections Patchbay makes to app-supplied URLs, through the three clients that
 * make them (documents and callbacks, <Play> media, Media Streams):
 *  - private-address blocking: IP literals, names resolving to loopback (real `localhost` and a
 *    rebinding resolver), IPv4-mapped IPv6, the metadata address, and a redirect from an allowed
 *    host to a blocked one; the blocked server must never see a request;
 *  - certificate verification: a self-signed HTTPS/WSS app fails (11237 for documents) unless its
 *    CA is added;
 *  - size caps and redirect bounds: a 50 MB body is cut off without being read, a redirect loop
 *    ends after 10 hops, a status callback's body is not read.
 * 127.0.0.1 plays the internal network; 127.0.0.2 plays a public host (an allowed network).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, LookupFunction } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerResponse } from 'node:http';
import { WebSocketServer } from 'ws';
import { EgressPolicy } from '../../src/webhooks/egress-policy.js';
import { WebhookClient, type DocumentRequest, type DocumentResult } from '../../src/webhooks/webhook-client.js';
import { mediaHttpGet } from '../../src/webhooks/media-http-get.js';
import { MediaFetcher, MediaFetchError } from '../../src/media/media-fetcher.js';
import { encodeWav } from '../../src/media/wav.js';
import { MediaStreamSession, type StreamEnd } from '../../src/streams/media-stream-session.js';
import { TwilioStreamDialect } from '../../src/streams/twilio-stream-dialect.js';
import { TestAppServer, xml } from './test-app-server.js';
import { selfSignedCertificate } from './tls-fixture.js';

const HELLO = '<Response><Say>Hello</Say></Response>';
const WAV = encodeWav(new Int16Array(800).map((_, i) => Math.round(8000 * Math.sin(i / 3))), 8000);

/** Resolves names from a table (in both lookup shapes), and anything else with the system resolver. */
function tableLookup(table: Record<string, string>): LookupFunction {
  return ((host: string, opts: { all?: boolean }, cb: (err: NodeJS.ErrnoException | null, a: string | LookupAddress[], f?: number) => void) => {
    const address = table[host];
    if (address === undefined) return dnsLookup(host, opts as { all: true }, cb as never);
    const family = address.includes(':') ? 6 : 4;
    process.nextTick(() => (opts.all ? cb(null, [{ address, family }]) : cb(null, address, family)));
  }) as unknown as LookupFunction;
}

function failure(r: DocumentResult): Extract<DocumentResult, { ok: false }> {
  assert.equal(r.ok, false, `expected a failure, got ${JSON.stringify(r)}`);
  return r as Extract<DocumentResult, { ok: false }>;
}

/** Streams up to `total` bytes as fast as the client reads; `written()` tells how many went out. */
function endlessBody(contentType: string, total: number): { route: (r: unknown, res: ServerResponse) => void; written: () => number } {
  let written = 0;
  return {
    written: () => written,
    route: (_r, res) => {
      res.writeHead(200, { 'Content-Type': contentType });
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = (): void => {
        while (written < total && !res.destroyed) {
          written += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        if (!res.destroyed) res.end();
      };
      pump();
    },
  };
}

function streamSession(url: string, egress?: EgressPolicy): MediaStreamSession {
  const dialect = new TwilioStreamDialect({ streamSid: 'MZ1', accountSid: 'AC1', callSid: 'CA1', tracks: ['inbound'], customParameters: [] });
  return new MediaStreamSession({ url, dialect, playout: null, connectTimeoutMs: 3000, ...(egress ? { egress } : {}) });
}

async function streamOutcome(session: MediaStreamSession): Promise<'started' | StreamEnd> {
  const ended = new Promise<StreamEnd>((resolve) => session.once('ended', resolve));
  let started = false;
  session.once('started', () => (started = true));
  await session.start();
  if (started) {
    session.stop();
    return 'started';
  }
  return ended;
}

describe('private and loopback addresses blocked (--block-private-webhooks)', () => {
  let inside: TestAppServer;
  let outside: TestAppServer;
  let insideWs: WebSocketServer;
  let outsideWs: WebSocketServer;
  let insideWsConnections = 0;
  let cacheDir: string;
  let policy: EgressPolicy;
  let client: WebhookClient;
  let fetcher: MediaFetcher;
  const insidePort = (): number => Number(new URL(inside.base).port);
  const req = (url: string): DocumentRequest => ({ url, method: 'POST', params: { CallSid: 'CA1' }, authToken: 'tok', timeoutMs: 5000 });

  before(async () => {
    inside = await new TestAppServer({ '/*': (_r, res) => xml(res, HELLO) }).start();
    outside = await new TestAppServer({
      '/twiml': (_r, res) => xml(res, HELLO),
      '/tone.wav': (_r, res) => res.writeHead(200, { 'Content-Type': 'audio/wav' }).end(WAV),
      '/to-inside': (_r, res) => res.writeHead(302, { Location: `${inside.base}/secret` }).end(),
      '/to-rebind': (_r, res) => res.writeHead(307, { Location: `http://rebind.test:${insidePort()}/secret` }).end(),
    }, '127.0.0.2').start();
    insideWs = new WebSocketServer({ host: '127.0.0.1', port: 0 });
    insideWs.on('connection', () => insideWsConnections++);
    outsideWs = new WebSocketServer({ host: '127.0.0.2', port: 0 });
    await Promise.all([insideWs, outsideWs].map((s) => new Promise((r) => s.once('listening', r))));
    cacheDir = mkdtempSync(join(tmpdir(), 'pb-egress-'));
    policy = new EgressPolicy({ blockPrivate: true, allowedNetworks: ['127.0.0.2'], lookup: tableLookup({ 'rebind.test': '127.0.0.1', 'public.test': '127.0.0.2' }) });
    client = new WebhookClient({ egress: policy });
    fetcher = new MediaFetcher({ cacheDir, httpGet: mediaHttpGet(policy), allowFiles: false });
  });
  after(async () => {
    await Promise.all([inside.close(), outside.close()]);
    for (const s of [insideWs, outsideWs]) {
      for (const c of s.clients) c.terminate();
      await new Promise((r) => s.close(r));
    }
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it('refuses documents from blocked addresses with 11200, naming why, without connecting', async () => {
    const port = insidePort();
    const cases: Array<[string, RegExp]> = [
      [`http://127.0.0.1:${port}/voice`, /loopback 127\.0\.0\.0\/8/],
      [`http://localhost:${port}/voice`, /localhost \((127\.0\.0\.1|::1)\).*loopback/],
      [`http://rebind.test:${port}/voice`, /rebind\.test \(127\.0\.0\.1\)/],
      [`http://[::ffff:127.0.0.1]:${port}/voice`, /embedded in IPv6/],
      ['http://169.254.169.254/latest/meta-data/', /link-local \(cloud metadata\)/],
      [`http://10.0.0.1:${port}/voice`, /private 10\.0\.0\.0\/8/],
    ];
    for (const [url, why] of cases) {
      const r = failure(await client.fetchDocument(req(url)));
      assert.equal(r.errorCode, 11200, `${url}: ${r.errorMessage}`);
      assert.match(r.errorMessage, why, url);
      assert.match(r.errorMessage, /--block-private-webhooks/);
    }
    assert.equal(inside.requests.length, 0, 'the internal server was never reached');
  });

  it('still reaches allowed hosts, by address and by name', async () => {
    assert.equal((await client.fetchDocument(req(`${outside.base}/twiml`))).ok, true);
    assert.equal((await client.fetchDocument(req(`http://public.test:${new URL(outside.base).port}/twiml`))).ok, true);
  });

  it('checks every redirect hop: an allowed host redirecting inside is refused', async () => {
    for (const path of ['/to-inside', '/to-rebind']) {
      const r = failure(await client.fetchDocument(req(`${outside.base}${path}`)));
      assert.equal(r.errorCode, 11200, r.errorMessage);
      assert.match(r.errorMessage, /blocked/);
    }
    assert.ok(outside.requests.some((r) => r.path === '/to-inside'), 'the first hop was made');
    assert.equal(inside.requests.length, 0);
  });

  it('refuses status callbacks to blocked addresses (11200)', async () => {
    const r = await client.send(req(`http://localhost:${insidePort()}/status`));
    assert.equal(r.ok, false);
    assert.equal(r.errorCode, 11200);
    assert.equal(inside.requests.length, 0);
  });

  it('refuses <Play> media from blocked addresses and blocked redirect targets', async () => {
    for (const url of [`${inside.base}/a.wav`, `http://localhost:${insidePort()}/a.wav`, `http://[::ffff:7f00:1]:${insidePort()}/a.wav`, `${outside.base}/to-inside`]) {
      await assert.rejects(fetcher.load(url), (err: unknown) => err instanceof MediaFetchError && err.code === 'blocked-address', url);
    }
    assert.equal(inside.requests.length, 0);
    assert.equal((await fetcher.load(`${outside.base}/tone.wav`)).length, 800);
  });

  it('refuses local files for <Play> when tenants are untrusted (allowFiles: false)', async () => {
    await assert.rejects(fetcher.load('/etc/hostname'), (err: unknown) => err instanceof MediaFetchError && err.code === 'invalid-url');
  });

  it('refuses Media Streams to blocked addresses (31920) and opens them to allowed ones', async () => {
    const insideWsPort = (insideWs.address() as AddressInfo).port;
    for (const url of [`ws://127.0.0.1:${insideWsPort}/s`, `ws://localhost:${insideWsPort}/s`, `ws://rebind.test:${insideWsPort}/s`, `ws://[::ffff:127.0.0.1]:${insideWsPort}/s`]) {
      const outcome = await streamOutcome(streamSession(url, policy));
      assert.notEqual(outcome, 'started', url);
      const end = outcome as StreamEnd;
      assert.equal(end.code, 31920, url);
      assert.match(end.message ?? '', /blocked/, url);
    }
    assert.equal(insideWsConnections, 0);
    assert.equal(await streamOutcome(streamSession(`ws://127.0.0.2:${(outsideWs.address() as AddressInfo).port}/s`, policy)), 'started');
  });
});

describe('certificates verified for https:// and wss:// app URLs', () => {
  let server: HttpsServer;
  let wss: WebSocketServer;
  let base: string;
  let cert: string;
  let cacheDir: string;

  before(async () => {
    const pair = selfSignedCertificate();
    cert = pair.cert;
    server = createHttpsServer({ cert: pair.cert, key: pair.key }, (req, res) => {
      if (req.url === '/tone.wav') res.writeHead(200, { 'Content-Type': 'audio/wav' }).end(WAV);
      else res.writeHead(200, { 'Content-Type': 'text/xml' }).end(HELLO);
    });
    wss = new WebSocketServer({ server });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    cacheDir = mkdtempSync(join(tmpdir(), 'pb-tls-cache-'));
  });
  after(async () => {
    for (const c of wss.clients) c.terminate();
    wss.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    rmSync(cacheDir, { recursive: true, force: true });
  });

  const req = (): DocumentRequest => ({ url: `${base}/voice`, method: 'POST', params: {}, authToken: 'tok', timeoutMs: 5000 });

  it('a self-signed app fails with 11237 by default', async () => {
    const r = failure(await new WebhookClient().fetchDocument(req()));
    assert.equal(r.errorCode, 11237, r.errorMessage);
  });

  it('the same app works once its CA is trusted (--webhook-ca)', async () => {
    const r = await new WebhookClient({ egress: new EgressPolicy({ extraCa: cert }) }).fetchDocument(req());
    assert.equal(r.ok, true, JSON.stringify(r));
  });

  it('<Play> media over https is verified the same way', async () => {
    const untrusted = new MediaFetcher({ cacheDir, httpGet: mediaHttpGet(new EgressPolicy()) });
    await assert.rejects(untrusted.load(`${base}/tone.wav`), (err: unknown) => err instanceof MediaFetchError && err.code === 'network-error' && /self-signed/i.test(err.message));
    const trusted = new MediaFetcher({ cacheDir, httpGet: mediaHttpGet(new EgressPolicy({ extraCa: cert })) });
    assert.equal((await trusted.load(`${base}/tone.wav`)).length, 800);
  });

  it('wss:// streams are verified the same way', async () => {
    const url = base.replace('https:', 'wss:') + '/stream';
    const refused = await streamOutcome(streamSession(url, new EgressPolicy()));
    assert.notEqual(refused, 'started');
    assert.equal((refused as StreamEnd).code, 31920);
    assert.match((refused as StreamEnd).message ?? '', /self-signed/i);
    assert.equal(await streamOutcome(streamSession(url, new EgressPolicy({ extraCa: cert }))), 'started');
  });
});

describe('response size caps and redirect bounds', () => {
  const FIFTY_MB = 50 * 1024 * 1024;
  const doc = endlessBody('text/xml', FIFTY_MB);
  const media = endlessBody('audio/wav', FIFTY_MB);
  const callbackBody = endlessBody('text/xml', FIFTY_MB);
  let app: TestAppServer;
  let cacheDir: string;

  before(async () => {
    app = await new TestAppServer({
      '/huge.xml': doc.route,
      '/huge.wav': media.route,
      '/callback': callbackBody.route,
      '/loop': (_r, res) => res.writeHead(302, { Location: '/loop' }).end(),
    }).start();
    cacheDir = mkdtempSync(join(tmpdir(), 'pb-caps-'));
  });
  after(async () => {
    await app.close();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it('a 50 MB document is refused (11750) after reading at most the cap, not buffered', async () => {
    const r = failure(await new WebhookClient().fetchDocument({ url: `${app.base}/huge.xml`, method: 'POST', params: {}, authToken: 't', timeoutMs: 10_000 }));
    assert.equal(r.errorCode, 11750);
    // The server stops being read: only what socket buffers absorb beyond the 64 KiB cap went out.
    assert.ok(doc.written() < FIFTY_MB / 4, `server wrote ${doc.written()} bytes`);
  });

  it('a status callback answering 50 MB is not read at all', async () => {
    const r = await new WebhookClient().send({ url: `${app.base}/callback`, method: 'POST', params: {}, authToken: 't', timeoutMs: 10_000 });
    assert.equal(r.ok, true);
    assert.ok(callbackBody.written() < FIFTY_MB / 4, `server wrote ${callbackBody.written()} bytes`);
  });

  it('<Play> media beyond the configured cap is refused (too-large) without reading it all', async () => {
    const fetcher = new MediaFetcher({ cacheDir, maxBytes: 1024 * 1024, httpGet: mediaHttpGet(new EgressPolicy()) });
    await assert.rejects(fetcher.load(`${app.base}/huge.wav`), (err: unknown) => err instanceof MediaFetchError && err.code === 'too-large');
    assert.ok(media.written() < FIFTY_MB / 4, `server wrote ${media.written()} bytes`);
  });

  it('a redirect loop ends after 10 redirects: 11215 for documents, too-many-redirects for media', async () => {
    const before = app.requests.length;
    const r = failure(await new WebhookClient().fetchDocument({ url: `${app.base}/loop`, method: 'GET', params: {}, authToken: 't', timeoutMs: 10_000 }));
    assert.equal(r.errorCode, 11215);
    assert.equal(app.requests.length - before, 11, 'the first request and 10 redirects');
    const fetcher = new MediaFetcher({ cacheDir, httpGet: mediaHttpGet(new EgressPolicy()) });
    await assert.rejects(fetcher.load(`${app.base}/loop`), (err: unknown) => err instanceof MediaFetchError && err.code === 'too-many-redirects');
    assert.equal(fetcher.stats.fetches, 11);
  });
});
