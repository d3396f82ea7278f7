/**
 * Loads the audio behind a <Play> URL as 8 kHz mono PCM, doing as little work as possible for
 * prompts that many calls play.
 *
 * Two cache levels:
 *  - disk (`cacheDir`): the original bytes plus their HTTP validators and freshness, so a restart
 *    does not refetch. Freshness follows RFC 9111: Cache-Control s-maxage/max-age (minus Age),
 *    then Expires, then the heuristic of §4.2.2 (10 % of the time since Last-Modified, ≤ 1 day).
 *    no-store is never written anywhere; stale entries are revalidated with If-None-Match /
 *    If-Modified-Since (§4.3.1) and a 304 refreshes the stored freshness (§4.3.4).
 *  - memory: an LRU of *decoded* PCM bounded by bytes, so a hot prompt is decoded once.
 * Concurrent loads of one URL share one in-flight promise.
 *
 * Stats: `hits` = served without touching the network or re-reading a local file; `misses` = the
 * rest; `fetches` = HTTP requests sent (each redirect hop counts); `revalidations` = 304 answers.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { extname, join, resolve as resolvePath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeToTelephony, sniffAudioFormat } from './audio-decoder.js';
import { freshUntil } from './http-freshness.js';

export type MediaFetchErrorCode =
  | 'http-error' | 'timeout' | 'unsupported-content-type' | 'decode-failed' | 'too-large' | 'not-found'
  | 'network-error' | 'too-many-redirects' | 'invalid-url' | 'blocked-address';

export class MediaFetchError extends Error {
  override readonly name = 'MediaFetchError';
  constructor(
    readonly code: MediaFetchErrorCode,
    message: string,
    readonly url: string,
    options?: { cause?: unknown; httpStatus?: number },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.httpStatus = options?.httpStatus;
  }
  /** Set for 'http-error'. */
  readonly httpStatus: number | undefined;
}

/**
 * One HTTP GET, with fetch's contract for `redirect: 'manual'` (the fetcher follows redirects
 * itself, calling this once per hop). Injected so the composition root can apply its connection
 * policy (address blocking, extra CAs) without this library knowing about it.
 */
export type MediaHttpGet = (url: string, init: { headers: Record<string, string>; signal: AbortSignal; redirect: 'manual' }) => Promise<Response>;

export interface MediaFetcherOptions {
  cacheDir: string;
  /** Bound on decoded PCM kept in memory (default 64 MiB). */
  maxMemoryBytes?: number;
  /** Whole-transfer timeout per request, redirects and body included (default 10 s). */
  timeoutMs?: number;
  /** Largest accepted file (default 50 MiB). */
  maxBytes?: number;
  maxRedirects?: number;
  /** Whether file:// URLs and plain paths may be read (default true). */
  allowFiles?: boolean;
  /** The HTTP GET to use (default: the global fetch). */
  httpGet?: MediaHttpGet;
  /** Wall clock in ms, for freshness arithmetic. */
  now?: () => number;
  /** Disk-cache I/O failures do not fail a load; they are reported here (default: process warning). */
  onCacheError?: (err: Error) => void;
}

export interface MediaFetcherStats {
  hits: number;
  misses: number;
  fetches: number;
  revalidations: number;
}

/** What is remembered about an HTTP response (on disk as JSON, in memory beside the PCM). */
interface StoredMeta {
  url: string;
  etag?: string;
  lastModified?: string;
  contentType?: string;
  /** Epoch ms after which the entry must be revalidated. */
  freshUntil: number;
  bodySha256: string;
}

interface MemoryEntry {
  pcm: Int16Array;
  meta?: StoredMeta;
  /** For local files: the stat that produced `pcm`. */
  fileStamp?: string;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const EXTENSION_TYPES: Record<string, string> = { '.wav': 'audio/wav', '.mp3': 'audio/mpeg', '.ulaw': 'audio/ulaw', '.ul': 'audio/ulaw' };

function withValidators(meta: StoredMeta, headers: Headers): StoredMeta {
  const etag = headers.get('etag');
  const lastModified = headers.get('last-modified');
  if (etag) meta.etag = etag;
  if (lastModified) meta.lastModified = lastModified;
  return meta;
}

const sha256 = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex');

export class MediaFetcher {
  readonly stats: MediaFetcherStats = { hits: 0, misses: 0, fetches: 0, revalidations: 0 };
  private readonly memory = new Map<string, MemoryEntry>();
  private memoryBytes = 0;
  private readonly inflight = new Map<string, Promise<Int16Array>>();
  private readonly maxMemoryBytes: number;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly maxRedirects: number;
  private readonly allowFiles: boolean;
  private readonly httpGet: MediaHttpGet;
  private readonly now: () => number;
  private readonly onCacheError: (err: Error) => void;
  private dirReady: Promise<unknown> | undefined;

  constructor(private readonly opts: MediaFetcherOptions) {
    this.maxMemoryBytes = opts.maxMemoryBytes ?? 64 * 1024 * 1024;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.maxBytes = opts.maxBytes ?? 50 * 1024 * 1024;
    this.maxRedirects = opts.maxRedirects ?? 10;
    this.allowFiles = opts.allowFiles ?? true;
    this.httpGet = opts.httpGet ?? ((url, init) => fetch(url, init));
    this.now = opts.now ?? Date.now;
    this.onCacheError = opts.onCacheError ?? ((err) => process.emitWarning(err));
  }

  /**
   * 8 kHz mono PCM for `url` (http:, https:, file: or a local path). `signal` only detaches this
   * caller: the shared download continues for the others and for the cache.
   */
  load(url: string, signal?: AbortSignal): Promise<Int16Array> {
    let job = this.inflight.get(url);
    if (!job) {
      job = this.loadUncached(url).finally(() => this.inflight.delete(url));
      this.inflight.set(url, job);
    }
    if (!signal) return job;
    const shared = job;
    return new Promise<Int16Array>((resolve, reject) => {
      const onAbort = (): void => reject(signal.reason);
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      shared.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
    });
  }

  private loadUncached(url: string): Promise<Int16Array> {
    if (/^https?:\/\//i.test(url)) return this.loadHttp(url);
    if (/^file:/i.test(url)) return this.loadFile(url, () => fileURLToPath(url));
    if (/^[a-z][a-z0-9+.-]*:/i.test(url)) {
      return Promise.reject(new MediaFetchError('invalid-url', `unsupported URL scheme in ${url}`, url));
    }
    return this.loadFile(url, () => resolvePath(url));
  }

  // ---- local files -------------------------------------------------------------------------

  private async loadFile(url: string, toPath: () => string): Promise<Int16Array> {
    if (!this.allowFiles) throw new MediaFetchError('invalid-url', `local files are not allowed: ${url}`, url);
    let path: string;
    try {
      path = toPath();
    } catch (err) {
      throw new MediaFetchError('invalid-url', `bad file URL ${url}`, url, { cause: err });
    }
    const st = await stat(path).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ENOTDIR') throw new MediaFetchError('not-found', `no such file: ${path}`, url, { cause: err });
      throw err;
    });
    if (!st.isFile()) throw new MediaFetchError('not-found', `not a regular file: ${path}`, url);
    if (st.size > this.maxBytes) throw new MediaFetchError('too-large', `${path} is ${st.size} bytes (limit ${this.maxBytes})`, url);
    const key = `file:${path}`;
    const stamp = `${st.mtimeMs}:${st.size}`;
    const cached = this.memoryGet(key);
    if (cached?.fileStamp === stamp) {
      this.stats.hits++;
      return cached.pcm;
    }
    this.stats.misses++;
    const bytes = await readFile(path);
    const pcm = await this.decode(url, bytes, EXTENSION_TYPES[extname(path).toLowerCase()]);
    this.memorySet(key, { pcm, fileStamp: stamp });
    return pcm;
  }

  // ---- HTTP --------------------------------------------------------------------------------

  private async loadHttp(url: string): Promise<Int16Array> {
    const now = this.now();
    const cached = this.memoryGet(url);
    if (cached?.meta && cached.meta.freshUntil > now) {
      this.stats.hits++;
      return cached.pcm;
    }
    const meta = cached?.meta ?? (await this.readMeta(url));
    // A fresh copy on disk: decode it without asking the origin.
    let storedBody: Buffer | undefined;
    if (!cached && meta) storedBody = await this.readBody(url, meta);
    if (!cached && meta && storedBody && meta.freshUntil > now) {
      this.stats.hits++;
      const pcm = await this.decode(url, storedBody, meta.contentType);
      this.memorySet(url, { pcm, meta });
      return pcm;
    }
    this.stats.misses++;
    const canRevalidate = meta !== undefined && (cached !== undefined || storedBody !== undefined);
    const headers: Record<string, string> = {};
    if (canRevalidate && meta.etag) headers['if-none-match'] = meta.etag;
    if (canRevalidate && meta.lastModified) headers['if-modified-since'] = meta.lastModified;

    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      const res = await this.fetchFollowingRedirects(url, headers, signal);
      if (res.status === 304 && canRevalidate) {
        this.stats.revalidations++;
        await res.body?.cancel();
        const until = freshUntil(res.headers, this.now());
        // §4.3.4: a 304 carries the current validators; store the ones it sends.
        const refreshed = withValidators({ ...meta, freshUntil: until ?? 0 }, res.headers);
        const pcm = cached?.pcm ?? (await this.decode(url, storedBody!, meta.contentType));
        this.memorySet(url, { pcm, meta: refreshed });
        await this.writeStored(refreshed);
        return pcm;
      }
      if (res.status < 200 || res.status > 299) {
        await res.body?.cancel();
        throw new MediaFetchError('http-error', `GET ${url} answered ${res.status}`, url, { httpStatus: res.status });
      }
      const body = await this.readResponseBody(url, res);
      const contentType = res.headers.get('content-type') ?? undefined;
      const hash = sha256(body);
      // Same bytes as before (origin without validators): skip decoding.
      const pcm = cached?.meta?.bodySha256 === hash ? cached.pcm : await this.decode(url, body, contentType);
      const until = freshUntil(res.headers, this.now());
      if (until === undefined) {
        this.memoryDelete(url);
        await this.removeStored(url);
        return pcm;
      }
      const stored = withValidators({ url, freshUntil: until, bodySha256: hash }, res.headers);
      if (contentType) stored.contentType = contentType;
      this.memorySet(url, { pcm, meta: stored });
      await this.writeStored(stored, body);
      return pcm;
    } catch (err) {
      throw this.classify(url, err, signal);
    }
  }

  private async fetchFollowingRedirects(url: string, headers: Record<string, string>, signal: AbortSignal): Promise<Response> {
    let current = url;
    for (let hop = 0; ; hop++) {
      this.stats.fetches++;
      const res = await this.httpGet(current, { headers, signal, redirect: 'manual' });
      const location = res.headers.get('location');
      if (!REDIRECTS.has(res.status) || !location) return res;
      await res.body?.cancel();
      if (hop >= this.maxRedirects) throw new MediaFetchError('too-many-redirects', `more than ${this.maxRedirects} redirects from ${url}`, url);
      current = new URL(location, current).href;
      if (!/^https?:/i.test(current)) throw new MediaFetchError('invalid-url', `redirect to non-HTTP URL ${current}`, url);
    }
  }

  private async readResponseBody(url: string, res: Response): Promise<Buffer> {
    const declared = Number(res.headers.get('content-length') ?? NaN);
    const tooLarge = (): MediaFetchError => new MediaFetchError('too-large', `${url} exceeds ${this.maxBytes} bytes`, url);
    if (declared > this.maxBytes) {
      await res.body?.cancel();
      throw tooLarge();
    }
    if (!res.body) return Buffer.alloc(0);
    const chunks: Uint8Array[] = [];
    let total = 0;
    for await (const chunk of res.body) {
      total += chunk.byteLength;
      if (total > this.maxBytes) {
        await res.body.cancel().catch(() => undefined); // the stream is already being torn down
        throw tooLarge();
      }
      chunks.push(chunk);
    }
    return Buffer.concat(chunks, total);
  }

  private classify(url: string, err: unknown, signal: AbortSignal): Error {
    if (err instanceof MediaFetchError) return err;
    if (signal.aborted) return new MediaFetchError('timeout', `${url} did not load within ${this.timeoutMs} ms`, url, { cause: err });
    if (err instanceof TypeError) {
      const reason = err.cause instanceof Error ? err.cause.message : err.message; // undici hides the errno in cause
      return new MediaFetchError('network-error', `GET ${url} failed: ${reason}`, url, { cause: err });
    }
    return err instanceof Error ? err : new Error(String(err));
  }

  private async decode(url: string, bytes: Buffer, contentType: string | undefined): Promise<Int16Array> {
    if (!sniffAudioFormat(bytes, contentType)) {
      throw new MediaFetchError('unsupported-content-type', `${url} is not audio we can play (Content-Type ${contentType ?? 'none'})`, url);
    }
    try {
      return await decodeToTelephony(bytes, contentType);
    } catch (err) {
      throw new MediaFetchError('decode-failed', `${url}: ${err instanceof Error ? err.message : String(err)}`, url, { cause: err });
    }
  }

  // ---- memory LRU (Map iteration order = insertion order, so re-inserting marks recent use) --

  private memoryGet(key: string): MemoryEntry | undefined {
    const entry = this.memory.get(key);
    if (entry) {
      this.memory.delete(key);
      this.memory.set(key, entry);
    }
    return entry;
  }

  private memorySet(key: string, entry: MemoryEntry): void {
    this.memoryDelete(key);
    if (entry.pcm.byteLength > this.maxMemoryBytes) return;
    this.memory.set(key, entry);
    this.memoryBytes += entry.pcm.byteLength;
    for (const [oldKey, old] of this.memory) {
      if (this.memoryBytes <= this.maxMemoryBytes) break;
      this.memory.delete(oldKey);
      this.memoryBytes -= old.pcm.byteLength;
    }
  }

  private memoryDelete(key: string): void {
    const old = this.memory.get(key);
    if (!old) return;
    this.memory.delete(key);
    this.memoryBytes -= old.pcm.byteLength;
  }

  // ---- disk cache: <sha256(url)>.json (StoredMeta) + <sha256(url)>.body ------------------------

  private paths(url: string): { meta: string; body: string } {
    const base = join(this.opts.cacheDir, sha256(url));
    return { meta: `${base}.json`, body: `${base}.body` };
  }

  private async readMeta(url: string): Promise<StoredMeta | undefined> {
    try {
      const meta = JSON.parse(await readFile(this.paths(url).meta, 'utf8')) as StoredMeta;
      return meta.url === url && typeof meta.freshUntil === 'number' ? meta : undefined;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.onCacheError(asError(err));
      return undefined;
    }
  }

  private async readBody(url: string, meta: StoredMeta): Promise<Buffer | undefined> {
    try {
      const body = await readFile(this.paths(url).body);
      return sha256(body) === meta.bodySha256 ? body : undefined; // a torn write is a miss
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.onCacheError(asError(err));
      return undefined;
    }
  }

  /** Body first, then the metadata that points at it (by hash), so a crash leaves no dangling meta. */
  private async writeStored(meta: StoredMeta, body?: Buffer): Promise<void> {
    const paths = this.paths(meta.url);
    if (body && !(await this.atomicWrite(paths.body, body))) return;
    await this.atomicWrite(paths.meta, JSON.stringify(meta));
  }

  /** Write-then-rename, so readers never see half a file. */
  private async atomicWrite(path: string, data: string | Buffer): Promise<boolean> {
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      this.dirReady ??= mkdir(this.opts.cacheDir, { recursive: true });
      await this.dirReady;
      await writeFile(tmp, data);
      await rename(tmp, path);
      return true;
    } catch (err) {
      this.dirReady = undefined;
      this.onCacheError(asError(err));
      await rm(tmp, { force: true }).catch(() => undefined); // best-effort cleanup of our own temp file
      return false;
    }
  }

  private async removeStored(url: string): Promise<void> {
    const { meta, body } = this.paths(url);
    try {
      await rm(meta, { force: true });
      await rm(body, { force: true });
    } catch (err) {
      this.onCacheError(asError(err));
    }
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
