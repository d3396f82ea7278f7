/**
 * HTTP client that asks applications for documents (and sends status callbacks), the way Twilio does:
 * form-encoded POST by default (GET puts the parameters in the query string), signed with
 * `X-Twilio-Signature` over exactly the URL requested, `I-Twilio-Idempotency-Token` per attempt,
 * redirects followed by hand (at most 10, so the final URL is known and 11215 can be raised), a
 * total time limit, a body size limit, and every failure mapped to Twilio's error codes. Every
 * connection follows the EgressPolicy: certificates verified (extra CAs allowed), and optionally
 * private/loopback addresses refused, on every redirect hop (11200, as Twilio reports a private IP).
 *
 * Response bodies become a VerbDocument according to their Content-Type:
 *   text/xml, application/xml, *+xml, text/html -> TwiML
 *   application/json, *+json                    -> JSON verbs
 *   text/plain or no Content-Type               -> TwiML if it is markup, else 12300 (never read aloud)
 *   audio/*                                     -> play that URL, then hang up
 *   anything else                               -> 12300
 * An empty body is 12100 (Twilio reports a document parse failure), or 11770 when it came chunked.
 */
import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { HttpMethod, VerbDocument } from '../verbs/verb-model.js';
import { VerbDocumentError } from '../verbs/verb-errors.js';
import { readTwiml } from '../verbs/twiml-reader.js';
import { readJsonVerbs } from '../verbs/json-reader.js';
import { computeTwilioSignature, stripFragment } from './signature.js';
import { BLOCKED_ADDRESS_CODE } from './address-policy.js';
import { EgressPolicy } from './egress-policy.js';

export interface DocumentRequest {
  url: string;
  method: HttpMethod;
  params: Record<string, string>;
  authToken: string;
  timeoutMs: number;
}

export type DocumentResult =
  | {
      ok: true;
      document: VerbDocument;
      /** Final document URL after redirects (without our GET parameters): relative URLs resolve against it. */
      url: string;
      httpStatus: number;
      latencyMs: number;
      contentType: string;
    }
  | {
      ok: false;
      errorCode: number;
      errorMessage: string;
      url: string;
      httpStatus: number | null;
      latencyMs: number;
      /** True when the caller's AbortSignal ended the request (hangup), not the application. */
      aborted?: boolean;
    };

export interface SendResult {
  ok: boolean;
  httpStatus: number | null;
  latencyMs: number;
  errorCode?: number;
  errorMessage?: string;
}

export interface WebhookClientOptions {
  userAgent?: string;
  maxBodyBytes?: number;
  maxRedirects?: number;
  /** DNS lookup override (tests; custom resolvers). Ignored when `egress` is given (it has its own). */
  lookup?: LookupFunction;
  /** Connection policy (address blocking, extra CAs); default: verify certificates, block nothing. */
  egress?: EgressPolicy;
}

export const WebhookErrorCode = {
  InvalidUrl: 11100,
  HttpRetrievalFailure: 11200,
  ConnectionFailure: 11205,
  ProtocolViolation: 11206,
  BadHostName: 11210,
  TooManyRedirects: 11215,
  TlsHandshake: 11220,
  CertificateDomainMismatch: 11235,
  CertificateExpired: 11236,
  CertificateUntrusted: 11237,
  BodyTooLarge: 11750,
  EmptyBody: 11770,
  ParseFailure: 12100,
  InvalidContentType: 12300,
} as const;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

class FetchFailure extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly httpStatus: number | null = null,
  ) {
    super(message);
  }
}

interface RawResponse {
  status: number;
  contentType: string;
  body: Buffer;
  chunked: boolean;
}

function mimeOf(contentType: string): { mime: string; charset: string } {
  const [type = '', ...rest] = contentType.split(';');
  const charset = rest.map((p) => p.trim()).find((p) => /^charset=/i.test(p))?.slice(8).replace(/"/g, '') ?? 'utf-8';
  return { mime: type.trim().toLowerCase(), charset };
}

function decodeBody(body: Buffer, charset: string): string {
  try {
    return new TextDecoder(charset).decode(body);
  } catch {
    return new TextDecoder('utf-8').decode(body);
  }
}

/** Turns a 2xx response into verbs according to its Content-Type (see the module comment). */
function interpretBody(res: RawResponse, documentUrl: string): VerbDocument {
  const { mime, charset } = mimeOf(res.contentType);
  if (mime.startsWith('audio/')) {
    return { verbs: [{ verb: 'play', url: documentUrl, digits: null, loop: 1 }, { verb: 'hangup' }], warnings: [] };
  }
  if (res.body.length === 0) {
    if (res.chunked) throw new FetchFailure(WebhookErrorCode.EmptyBody, 'empty response body (chunked)', res.status);
    throw new FetchFailure(WebhookErrorCode.ParseFailure, 'empty response body', res.status);
  }
  const text = decodeBody(res.body, charset);
  if (mime === 'text/xml' || mime === 'application/xml' || mime.endsWith('+xml') || mime === 'text/html') return readTwiml(text);
  if (mime === 'application/json' || mime.endsWith('+json')) return readJsonVerbs(text);
  if (mime === 'text/plain' || mime === '') {
    // Twilio would read plain text aloud; Patchbay does not (an app error page would be spoken).
    if (text.trimStart().startsWith('<')) return readTwiml(text);
    throw new FetchFailure(WebhookErrorCode.InvalidContentType, `${mime || 'missing Content-Type'} body is not TwiML`, res.status);
  }
  throw new FetchFailure(WebhookErrorCode.InvalidContentType, `unsupported Content-Type "${res.contentType}"`, res.status);
}

function parseTarget(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new FetchFailure(WebhookErrorCode.InvalidUrl, `invalid URL "${url}"`);
  }
  if ((parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || parsed.hostname === '') {
    throw new FetchFailure(WebhookErrorCode.InvalidUrl, `only absolute http(s) URLs can be requested, got "${url}"`);
  }
  return parsed;
}

function appendQuery(url: string, params: Record<string, string>): string {
  const query = new URLSearchParams(params).toString();
  if (query === '') return url;
  return url + (url.includes('?') ? (url.endsWith('?') || url.endsWith('&') ? '' : '&') : '?') + query;
}

/** Maps a socket/TLS/HTTP-parser error to Twilio's code. */
function networkFailure(err: NodeJS.ErrnoException): FetchFailure {
  const code = err.code ?? '';
  if (code === BLOCKED_ADDRESS_CODE) return new FetchFailure(WebhookErrorCode.HttpRetrievalFailure, err.message);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EAI_FAIL' || code === 'EAI_NONAME') {
    return new FetchFailure(WebhookErrorCode.BadHostName, `host name lookup failed (${code})`);
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return new FetchFailure(WebhookErrorCode.CertificateDomainMismatch, err.message);
  if (code === 'CERT_HAS_EXPIRED') return new FetchFailure(WebhookErrorCode.CertificateExpired, err.message);
  if (/SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|CERT_UNTRUSTED/.test(code)) return new FetchFailure(WebhookErrorCode.CertificateUntrusted, err.message);
  if (code.startsWith('ERR_SSL') || code.startsWith('ERR_TLS')) return new FetchFailure(WebhookErrorCode.TlsHandshake, err.message);
  if (code.startsWith('HPE_')) return new FetchFailure(WebhookErrorCode.ProtocolViolation, `HTTP protocol violation: ${err.message}`);
  return new FetchFailure(WebhookErrorCode.ConnectionFailure, `connection failure: ${code || err.message}`);
}

interface Attempt {
  url: URL;
  method: HttpMethod;
  headers: Record<string, string>;
  body: string | null;
  signal: AbortSignal;
  /** Documents: stop reading once the response turns out to be audio. Callbacks: never read the body. */
  bodyMode: 'document' | 'discard';
}

export class WebhookClient {
  private readonly userAgent: string;
  private readonly maxBodyBytes: number;
  private readonly maxRedirects: number;
  private readonly egress: EgressPolicy;

  constructor(opts: WebhookClientOptions = {}) {
    this.userAgent = opts.userAgent ?? 'TwilioProxy/1.1';
    this.maxBodyBytes = opts.maxBodyBytes ?? 64 * 1024;
    this.maxRedirects = opts.maxRedirects ?? 10;
    this.egress = opts.egress ?? new EgressPolicy(opts.lookup ? { lookup: opts.lookup } : {});
  }

  /** Asks the application for a document. Never throws: failures come back with a Twilio code. */
  async fetchDocument(req: DocumentRequest, signal?: AbortSignal): Promise<DocumentResult> {
    const started = performance.now();
    const outcome = await this.exchange(req, signal, true);
    const latencyMs = Math.round(performance.now() - started);
    if ('failure' in outcome) {
      const { failure, url, aborted } = outcome;
      return { ok: false, errorCode: failure.code, errorMessage: failure.message, url, httpStatus: failure.httpStatus, latencyMs, ...(aborted ? { aborted } : {}) };
    }
    try {
      const document = interpretBody(outcome.response, outcome.url);
      return { ok: true, document, url: outcome.url, httpStatus: outcome.response.status, latencyMs, contentType: outcome.response.contentType };
    } catch (err) {
      const status = outcome.response.status;
      if (err instanceof FetchFailure) return { ok: false, errorCode: err.code, errorMessage: err.message, url: outcome.url, httpStatus: status, latencyMs };
      if (err instanceof VerbDocumentError) return { ok: false, errorCode: err.code, errorMessage: err.message, url: outcome.url, httpStatus: status, latencyMs };
      // A reader bug must not escape into the call: report it as Twilio's 12400 internal failure.
      return { ok: false, errorCode: 12400, errorMessage: `internal failure reading the document: ${(err as Error).message}`, url: outcome.url, httpStatus: status, latencyMs };
    }
  }

  /** Sends a request whose response body does not matter (status callbacks). Never throws. */
  async send(req: DocumentRequest): Promise<SendResult> {
    const started = performance.now();
    const outcome = await this.exchange(req, undefined, false);
    const latencyMs = Math.round(performance.now() - started);
    if ('failure' in outcome) {
      return { ok: false, httpStatus: outcome.failure.httpStatus, latencyMs, errorCode: outcome.failure.code, errorMessage: outcome.failure.message };
    }
    return { ok: true, httpStatus: outcome.response.status, latencyMs };
  }

  /** One logical request: the first attempt plus any redirects, within one total time limit. */
  private async exchange(
    req: DocumentRequest,
    callerSignal: AbortSignal | undefined,
    forDocument: boolean,
  ): Promise<{ response: RawResponse; url: string } | { failure: FetchFailure; url: string; aborted: boolean }> {
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), req.timeoutMs);
    const signal = callerSignal ? AbortSignal.any([timeout.signal, callerSignal]) : timeout.signal;
    let documentUrl = stripFragment(req.url);
    let method = req.method;
    try {
      for (let redirects = 0; ; redirects++) {
        const target = parseTarget(documentUrl);
        const requestUrl = method === 'GET' ? appendQuery(documentUrl, req.params) : documentUrl;
        const body = method === 'POST' ? new URLSearchParams(req.params).toString() : null;
        const headers: Record<string, string> = {
          'User-Agent': this.userAgent,
          Accept: '*/*',
          'X-Twilio-Signature': computeTwilioSignature(req.authToken, requestUrl, method === 'POST' ? req.params : {}),
          'I-Twilio-Idempotency-Token': randomUUID(),
        };
        if (body !== null) {
          headers['Content-Type'] = 'application/x-www-form-urlencoded; charset=utf-8';
          headers['Content-Length'] = String(Buffer.byteLength(body));
        }
        const url = method === 'GET' ? parseTarget(requestUrl) : target;
        const response = await this.attempt({ url, method, headers, body, signal, bodyMode: forDocument ? 'document' : 'discard' });
        if (REDIRECT_STATUSES.has(response.status) && response.location !== undefined) {
          if (redirects >= this.maxRedirects) throw new FetchFailure(WebhookErrorCode.TooManyRedirects, `more than ${this.maxRedirects} redirects`, response.status);
          documentUrl = stripFragment(new URL(response.location, requestUrl).toString());
          // Browser behaviour (Twilio's client "behaves like a browser"): 303, and 301/302 after a
          // POST, continue as GET; 307/308 repeat the same method and body.
          if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === 'POST')) method = 'GET';
          continue;
        }
        if (response.status < 200 || response.status > 299) {
          throw new FetchFailure(WebhookErrorCode.HttpRetrievalFailure, `HTTP ${response.status} from application`, response.status);
        }
        return { response, url: documentUrl };
      }
    } catch (err) {
      const aborted = callerSignal?.aborted === true;
      let failure: FetchFailure;
      // A specific failure (too large, HTTP status...) wins; a dropped connection is explained by an abort if there was one.
      if (err instanceof FetchFailure && err.code !== WebhookErrorCode.ConnectionFailure) failure = err;
      else if (aborted) failure = new FetchFailure(WebhookErrorCode.ConnectionFailure, 'request aborted by caller');
      else if (timeout.signal.aborted) failure = new FetchFailure(WebhookErrorCode.ConnectionFailure, `timed out after ${req.timeoutMs} ms`);
      else if (err instanceof FetchFailure) failure = err;
      else failure = networkFailure(err as NodeJS.ErrnoException);
      return { failure, url: documentUrl, aborted };
    } finally {
      clearTimeout(timer);
    }
  }

  private attempt(a: Attempt): Promise<RawResponse & { location?: string }> {
    return new Promise((resolve, reject) => {
      try {
        this.egress.check(a.url);
      } catch (err) {
        reject(networkFailure(err as NodeJS.ErrnoException));
        return;
      }
      const options: RequestOptions = { method: a.method, headers: a.headers, signal: a.signal, ...this.egress.socketOptions() };
      const send = a.url.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = send(a.url, options, (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        const contentType = String(res.headers['content-type'] ?? '');
        const chunked = /chunked/i.test(String(res.headers['transfer-encoding'] ?? ''));
        const location = res.headers.location;
        const base = { status, contentType, chunked, ...(location !== undefined ? { location } : {}) };
        const bodyNotNeeded =
          a.bodyMode === 'discard' || REDIRECT_STATUSES.has(status) || status < 200 || status > 299 || mimeOf(contentType).mime.startsWith('audio/');
        if (bodyNotNeeded) {
          // Callback responses, error pages, redirects and audio (fetched again by <Play>) are not read.
          res.destroy();
          resolve({ ...base, body: Buffer.alloc(0) });
          return;
        }
        const declared = Number(res.headers['content-length']);
        if (Number.isFinite(declared) && declared > this.maxBodyBytes) {
          // Reject before destroying: destroy() emits 'aborted' synchronously.
          reject(new FetchFailure(WebhookErrorCode.BodyTooLarge, `response body of ${declared} bytes exceeds ${this.maxBodyBytes}`, status));
          res.destroy();
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size > this.maxBodyBytes) {
            reject(new FetchFailure(WebhookErrorCode.BodyTooLarge, `response body exceeds ${this.maxBodyBytes} bytes`, status));
            res.destroy();
            return;
          }
          chunks.push(chunk);
        });
        res.on('end', () => resolve({ ...base, body: Buffer.concat(chunks) }));
        res.on('error', reject);
        res.on('aborted', () => reject(new FetchFailure(WebhookErrorCode.ConnectionFailure, 'connection closed before the body ended', status)));
      });
      req.on('error', reject);
      req.end(a.body ?? undefined);
    });
  }
}
