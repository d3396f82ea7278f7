import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MediaFetcher, MediaFetchError } from '../../src/media/media-fetcher.js';
import { encodeWav } from '../../src/media/wav.js';

const TONE = encodeWav(Int16Array.from({ length: 1600 }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 8000))), 8000);
const TONE_16K = encodeWav(Int16Array.from({ length: 3200 }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 16000))), 16000);

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const requests: Array<{ path: string; headers: IncomingMessage['headers'] }> = [];
const routes = new Map<string, Handler>();
let server: Server;
let base: string;
let dirs: string[] = [];

const wav = (extra: Record<string, string> = {}, body: Buffer = TONE): Handler => (_req, res) => {
  res.writeHead(200, { 'content-type': 'audio/wav', ...extra });
  res.end(body);
};

before(async () => {
  server = createServer((req, res) => {
    requests.push({ path: req.url ?? '', headers: req.headers });
    const handler = routes.get((req.url ?? '').split('?')[0]!);
    if (handler) return handler(req, res);
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not here');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'patchbay-media-'));
  dirs.push(d);
  return d;
}

const hits = (path: string): number => requests.filter((r) => r.path === path).length;

async function rejectsWith(p: Promise<unknown>, code: string, extra?: (err: MediaFetchError) => void): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof MediaFetchError, `expected MediaFetchError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    extra?.(err);
    return true;
  });
}

test('a fresh (max-age) response is served from cache with no second request, also after a restart', async () => {
  routes.set('/fresh.wav', wav({ 'cache-control': 'public, max-age=300' }));
  const cacheDir = await tempDir();
  const fetcher = new MediaFetcher({ cacheDir });
  const first = await fetcher.load(`${base}/fresh.wav`);
  assert.equal(first.length, 1600);
  const second = await fetcher.load(`${base}/fresh.wav`);
  assert.equal(second, first, 'the same decoded PCM object comes from memory');
  assert.equal(hits('/fresh.wav'), 1);
  assert.deepEqual(fetcher.stats, { hits: 1, misses: 1, fetches: 1, revalidations: 0 });

  const restarted = new MediaFetcher({ cacheDir });
  assert.deepEqual(await restarted.load(`${base}/fresh.wav`), first);
  assert.equal(hits('/fresh.wav'), 1, 'the disk copy is still fresh: no request');
  assert.equal(restarted.stats.hits, 1);
});

test('a stale entry is revalidated with its ETag; 304 reuses the cached audio', async () => {
  routes.set('/etag.wav', (req, res) => {
    if (req.headers['if-none-match'] === '"v1"') {
      res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=0' });
      return res.end();
    }
    wav({ etag: '"v1"', 'cache-control': 'no-cache' })(req, res);
  });
  const fetcher = new MediaFetcher({ cacheDir: await tempDir() });
  const first = await fetcher.load(`${base}/etag.wav`);
  const second = await fetcher.load(`${base}/etag.wav`);
  assert.equal(second, first);
  const seen = requests.filter((r) => r.path === '/etag.wav');
  assert.equal(seen.length, 2);
  assert.equal(seen[0]!.headers['if-none-match'], undefined);
  assert.equal(seen[1]!.headers['if-none-match'], '"v1"');
  assert.equal(fetcher.stats.revalidations, 1);
});

test('max-age expiry follows the injected clock; Last-Modified revalidation after a restart', async () => {
  const lastModified = 'Tue, 01 Oct 2024 10:00:00 GMT';
  routes.set('/lm.wav', (req, res) => {
    if (req.headers['if-modified-since'] === lastModified) {
      res.writeHead(304, { 'cache-control': 'max-age=60' });
      return res.end();
    }
    wav({ 'last-modified': lastModified, 'cache-control': 'max-age=60' })(req, res);
  });
  let now = 1_000_000;
  const cacheDir = await tempDir();
  const fetcher = new MediaFetcher({ cacheDir, now: () => now });
  await fetcher.load(`${base}/lm.wav`);
  now += 59_000;
  await fetcher.load(`${base}/lm.wav`);
  assert.equal(hits('/lm.wav'), 1, 'still fresh at 59 s');
  now += 2_000;
  const restarted = new MediaFetcher({ cacheDir, now: () => now });
  assert.equal((await restarted.load(`${base}/lm.wav`)).length, 1600);
  const seen = requests.filter((r) => r.path === '/lm.wav');
  assert.equal(seen.length, 2, 'stale at 61 s: one conditional request');
  assert.equal(seen[1]!.headers['if-modified-since'], lastModified);
  assert.equal(restarted.stats.revalidations, 1);
  now += 30_000;
  await restarted.load(`${base}/lm.wav`);
  assert.equal(hits('/lm.wav'), 2, 'the 304 renewed freshness for another 60 s');
});

test('no-store responses are never cached, in memory or on disk', async () => {
  routes.set('/nostore.wav', wav({ 'cache-control': 'no-store' }));
  const cacheDir = await tempDir();
  const fetcher = new MediaFetcher({ cacheDir });
  await fetcher.load(`${base}/nostore.wav`);
  await fetcher.load(`${base}/nostore.wav`);
  assert.equal(hits('/nostore.wav'), 2);
  assert.deepEqual(await readdir(cacheDir).catch(() => []), []);
});

test('404 → MediaFetchError http-error with the status', async () => {
  const fetcher = new MediaFetcher({ cacheDir: await tempDir() });
  await rejectsWith(fetcher.load(`${base}/missing.wav`), 'http-error', (err) => assert.equal(err.httpStatus, 404));
});

test('a server that never answers → timeout', async () => {
  routes.set('/hang.wav', () => undefined); // never responds
  const fetcher = new MediaFetcher({ cacheDir: await tempDir(), timeoutMs: 150 });
  await rejectsWith(fetcher.load(`${base}/hang.wav`), 'timeout');
});

test('concurrent loads of one URL share a single fetch and decode', async () => {
  routes.set('/slow.wav', (req, res) => void setTimeout(() => wav({ 'cache-control': 'max-age=60' }, TONE_16K)(req, res), 100));
  const fetcher = new MediaFetcher({ cacheDir: await tempDir() });
  const results = await Promise.all(Array.from({ length: 5 }, () => fetcher.load(`${base}/slow.wav`)));
  assert.equal(hits('/slow.wav'), 1);
  assert.equal(fetcher.stats.fetches, 1);
  for (const r of results) assert.equal(r, results[0]);
  assert.equal(results[0]!.length, 1600, '16 kHz source resampled to 8 kHz');
});

test('a caller abort detaches only that caller', async () => {
  routes.set('/shared.wav', (req, res) => void setTimeout(() => wav()(req, res), 80));
  const fetcher = new MediaFetcher({ cacheDir: await tempDir() });
  const ac = new AbortController();
  const aborted = fetcher.load(`${base}/shared.wav`, ac.signal);
  const other = fetcher.load(`${base}/shared.wav`);
  ac.abort(new Error('caller hung up'));
  await assert.rejects(aborted, /caller hung up/);
  assert.equal((await other).length, 1600);
});

test('redirects are followed (up to the limit)', async () => {
  routes.set('/redirect', (_req, res) => {
    res.writeHead(302, { location: '/fresh2.wav' });
    res.end();
  });
  routes.set('/fresh2.wav', wav());
  routes.set('/loop', (_req, res) => {
    res.writeHead(301, { location: `${base}/loop` });
    res.end();
  });
  const fetcher = new MediaFetcher({ cacheDir: await tempDir(), maxRedirects: 3 });
  assert.equal((await fetcher.load(`${base}/redirect`)).length, 1600);
  await rejectsWith(fetcher.load(`${base}/loop`), 'too-many-redirects');
  assert.equal(hits('/loop'), 4);
});

test('non-audio, oversized and undecodable responses get their own codes', async () => {
  routes.set('/page.html', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end('<html>Not found</html>');
  });
  routes.set('/big.wav', wav());
  routes.set('/chunked-big.wav', (_req, res) => {
    res.writeHead(200, { 'content-type': 'audio/wav' });
    res.write(TONE.subarray(0, 2000));
    res.end(TONE.subarray(2000));
  });
  routes.set('/broken.mp3', (_req, res) => {
    res.writeHead(200, { 'content-type': 'audio/mpeg' });
    res.end(Buffer.from('this is not mpeg audio'));
  });
  const fetcher = new MediaFetcher({ cacheDir: await tempDir(), maxBytes: 1000 });
  await rejectsWith(fetcher.load(`${base}/page.html`), 'unsupported-content-type');
  await rejectsWith(fetcher.load(`${base}/big.wav`), 'too-large');
  await rejectsWith(fetcher.load(`${base}/chunked-big.wav`), 'too-large');
  const roomy = new MediaFetcher({ cacheDir: await tempDir() });
  await rejectsWith(roomy.load(`${base}/broken.mp3`), 'decode-failed');
});

test('local paths and file:// URLs load, are cached by mtime, and missing files are not-found', async () => {
  const dir = await tempDir();
  const path = join(dir, 'prompt.wav');
  await writeFile(path, TONE);
  const fetcher = new MediaFetcher({ cacheDir: join(dir, 'cache') });
  const a = await fetcher.load(path);
  const b = await fetcher.load(pathToFileURL(path).href);
  assert.equal(a.length, 1600);
  assert.equal(b, a, 'file: URL and path share the decoded entry');
  assert.equal(fetcher.stats.hits, 1);
  await writeFile(path, TONE_16K.subarray(0, 44 + 800)); // changed on disk
  assert.equal((await fetcher.load(path)).length, 200);
  await rejectsWith(fetcher.load(join(dir, 'nope.wav')), 'not-found');
  await rejectsWith(fetcher.load('ftp://example.invalid/a.wav'), 'invalid-url');
  const locked = new MediaFetcher({ cacheDir: join(dir, 'cache'), allowFiles: false });
  await rejectsWith(locked.load(path), 'invalid-url');
});

test('the memory cache is bounded by bytes (least recently used goes first)', async () => {
  routes.set('/m1.wav', wav({ 'cache-control': 'max-age=60' }));
  routes.set('/m2.wav', wav({ 'cache-control': 'max-age=60' }));
  // 1600 samples = 3200 bytes each: room for one entry only. Disk still holds both.
  const fetcher = new MediaFetcher({ cacheDir: await tempDir(), maxMemoryBytes: 4000 });
  const m1 = await fetcher.load(`${base}/m1.wav`);
  await fetcher.load(`${base}/m2.wav`);
  const again = await fetcher.load(`${base}/m1.wav`);
  assert.notEqual(again, m1, 'evicted from memory, decoded again from disk');
  assert.deepEqual(again, m1);
  assert.equal(hits('/m1.wav'), 1, 'fresh on disk: no new request');
});
