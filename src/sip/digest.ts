/**
 * HTTP Digest authentication as SIP uses it (RFC 3261 §22, RFC 2617, RFC 7616 for the hashing,
 * RFC 8760 for SHA-256 in SIP): parsing challenges and credentials, computing responses, and a
 * stateless server side whose nonces carry their own issue time and an HMAC, so any request can
 * be checked without a nonce table (expired nonces are answered `stale=true`, as §22.4 allows).
 *
 * Only qop=auth and the RFC 2069 no-qop form are computed; `-sess` algorithms and auth-int are
 * not supported (a challenge naming an unsupported algorithm parses to null).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export type DigestAlgorithm = 'MD5' | 'SHA-256';

/** A WWW-Authenticate / Proxy-Authenticate `Digest` challenge. */
export interface DigestChallenge {
  realm: string;
  nonce: string;
  opaque: string | null;
  algorithm: DigestAlgorithm;
  /** Offered qop values (`auth`, `auth-int`); empty = RFC 2069 style (no qop). */
  qop: string[];
  stale: boolean;
}

/** An Authorization / Proxy-Authorization `Digest` header's fields. */
export interface DigestCredentials {
  username: string;
  realm: string;
  nonce: string;
  uri: string;
  response: string;
  algorithm: DigestAlgorithm;
  opaque: string | null;
  qop: string | null;
  cnonce: string | null;
  /** 8 hex digits as sent. */
  nc: string | null;
}

const HASH_NAME: Record<DigestAlgorithm, string> = { MD5: 'md5', 'SHA-256': 'sha256' };

function h(algorithm: DigestAlgorithm, data: string): string {
  return createHash(HASH_NAME[algorithm]).update(data, 'utf8').digest('hex');
}

/** `MD5`/`SHA-256` in any case; absent means MD5 (RFC 7616 §3.3). Anything else: null. */
function toAlgorithm(value: string | undefined): DigestAlgorithm | null {
  if (value === undefined) return 'MD5';
  const v = value.toUpperCase();
  return v === 'MD5' ? 'MD5' : v === 'SHA-256' ? 'SHA-256' : null;
}

/** hex H(username:realm:password) for the algorithm. */
export function digestHa1(algorithm: DigestAlgorithm, username: string, realm: string, password: string): string {
  return h(algorithm, `${username}:${realm}:${password}`);
}

/**
 * The `response` value (RFC 7616 §3.4.1): KD(HA1, nonce:nc:cnonce:qop:HA2) with qop, or
 * KD(HA1, nonce:HA2) without (RFC 2069), where HA2 = H(method:uri).
 */
export function digestResponse(
  algorithm: DigestAlgorithm,
  ha1: string,
  p: { method: string; uri: string; nonce: string; qop: string | null; nc: string | null; cnonce: string | null },
): string {
  const ha2 = h(algorithm, `${p.method}:${p.uri}`);
  if (p.qop) return h(algorithm, `${ha1}:${p.nonce}:${p.nc ?? ''}:${p.cnonce ?? ''}:${p.qop}:${ha2}`);
  return h(algorithm, `${ha1}:${p.nonce}:${ha2}`);
}

/**
 * Splits `Digest a=b, c="d, \"e\""` into its scheme and auth-params (RFC 7235 §2.1; names lower
 * case, quoted values unescaped). Null on a syntax error.
 */
function parseAuthParams(value: string): { scheme: string; params: Map<string, string> } | null {
  const s = value.trim();
  const m = /^([A-Za-z0-9!#$%&'*+.^_`|~-]+)(?:[ \t]+|$)/.exec(s);
  if (!m) return null;
  const params = new Map<string, string>();
  let i = m[0].length;
  const ws = (): void => {
    while (i < s.length && (s[i] === ' ' || s[i] === '\t')) i++;
  };
  for (;;) {
    ws();
    if (i >= s.length) break;
    if (s[i] === ',') {
      i++; // empty list elements are allowed (#rule)
      continue;
    }
    const nameMatch = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+/.exec(s.slice(i));
    if (!nameMatch) return null;
    const name = nameMatch[0].toLowerCase();
    i += nameMatch[0].length;
    ws();
    if (s[i] !== '=') return null;
    i++;
    ws();
    let v = '';
    if (s[i] === '"') {
      let closed = false;
      for (i++; i < s.length; i++) {
        const c = s[i]!;
        if (c === '\\' && i + 1 < s.length) v += s[++i];
        else if (c === '"') {
          closed = true;
          i++;
          break;
        } else v += c;
      }
      if (!closed) return null;
    } else {
      const start = i;
      while (i < s.length && s[i] !== ',' && s[i] !== ' ' && s[i] !== '\t') i++;
      v = s.slice(start, i);
      if (v.length === 0) return null;
    }
    if (!params.has(name)) params.set(name, v);
    ws();
    if (i < s.length && s[i] !== ',') return null;
  }
  return { scheme: m[1]!, params };
}

/** Null when the value is not a Digest challenge with a realm and a nonce (or names an unsupported algorithm). */
export function parseChallenge(value: string): DigestChallenge | null {
  const parsed = parseAuthParams(value);
  if (!parsed || parsed.scheme.toLowerCase() !== 'digest') return null;
  const p = parsed.params;
  const realm = p.get('realm');
  const nonce = p.get('nonce');
  const algorithm = toAlgorithm(p.get('algorithm'));
  if (realm === undefined || nonce === undefined || !algorithm) return null;
  const qop = (p.get('qop') ?? '')
    .split(',')
    .map((q) => q.trim().toLowerCase())
    .filter((q) => q.length > 0);
  return { realm, nonce, opaque: p.get('opaque') ?? null, algorithm, qop, stale: (p.get('stale') ?? '').toLowerCase() === 'true' };
}

/** Null when the value is not Digest credentials with the required fields. */
export function parseCredentials(value: string): DigestCredentials | null {
  const parsed = parseAuthParams(value);
  if (!parsed || parsed.scheme.toLowerCase() !== 'digest') return null;
  const p = parsed.params;
  const username = p.get('username');
  const realm = p.get('realm');
  const nonce = p.get('nonce');
  const uri = p.get('uri');
  const response = p.get('response');
  const algorithm = toAlgorithm(p.get('algorithm'));
  if (username === undefined || realm === undefined || nonce === undefined || uri === undefined || response === undefined || !algorithm) return null;
  const qop = p.get('qop')?.toLowerCase() ?? null;
  const cnonce = p.get('cnonce') ?? null;
  const nc = p.get('nc') ?? null;
  // RFC 7616 §3.4: with qop, cnonce and nc are mandatory; nc is 8LHEX.
  if (qop !== null && (cnonce === null || nc === null || !/^[0-9a-fA-F]{8}$/.test(nc))) return null;
  return { username, realm, nonce, uri, response, algorithm, opaque: p.get('opaque') ?? null, qop, cnonce, nc };
}

/** quoted-string with `"` and `\` escaped as quoted-pairs. */
function quote(v: string): string {
  return `"${v.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/**
 * The challenge to answer among several header values: SHA-256 before MD5 (RFC 8760 §2.4 lets
 * the client pick the strongest it supports), otherwise the first parseable one.
 */
export function pickChallenge(values: readonly string[]): DigestChallenge | null {
  const parsed = values.map(parseChallenge).filter((c): c is DigestChallenge => c !== null);
  return parsed.find((c) => c.algorithm === 'SHA-256') ?? parsed[0] ?? null;
}

/**
 * Client side: the Authorization / Proxy-Authorization value answering `challenge` for a request
 * `method` to `uri` (qop=auth when offered, else none; a fresh cnonce; `nc` counts uses of this nonce).
 */
export function authorizationFor(challenge: DigestChallenge, creds: { username: string; password: string }, method: string, uri: string, nc: number): string {
  const qop = challenge.qop.includes('auth') ? 'auth' : null;
  const cnonce = qop ? randomBytes(12).toString('hex') : null;
  const ncHex = qop ? nc.toString(16).padStart(8, '0') : null;
  const ha1 = digestHa1(challenge.algorithm, creds.username, challenge.realm, creds.password);
  const response = digestResponse(challenge.algorithm, ha1, { method, uri, nonce: challenge.nonce, qop, nc: ncHex, cnonce });
  const parts = [
    `username=${quote(creds.username)}`,
    `realm=${quote(challenge.realm)}`,
    `nonce=${quote(challenge.nonce)}`,
    `uri=${quote(uri)}`,
    `response=${quote(response)}`,
    `algorithm=${challenge.algorithm}`,
  ];
  if (challenge.opaque !== null) parts.push(`opaque=${quote(challenge.opaque)}`);
  if (qop) parts.push(`qop=${qop}`, `nc=${ncHex!}`, `cnonce=${quote(cnonce!)}`);
  return `Digest ${parts.join(', ')}`;
}

export type DigestVerdict =
  | { result: 'ok'; username: string }
  /** Right password over an expired nonce: challenge again with stale=true. */
  | { result: 'stale'; username: string }
  /** No credentials for our realm: challenge. */
  | { result: 'missing' }
  /** Unknown user or wrong response. */
  | { result: 'failed'; username: string | null };

export interface DigestServerOptions {
  realm: string;
  /** Key for nonce HMACs (random per process by default, so nonces die with a restart). */
  secret?: Buffer;
  /** How long a nonce is accepted; default 300 s. */
  nonceLifetimeMs?: number;
  /** Wall clock, ms (injectable for tests). */
  now?: () => number;
}

/** HA1 per algorithm for one user, as the store keeps them. */
export interface StoredDigestSecrets {
  ha1Md5: string;
  ha1Sha256: string;
}

function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  // Lengths of hex digests are public (fixed per algorithm); only the content is compared in constant time.
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

/**
 * Server side for one realm. `challenges()` gives the header values to send (SHA-256 first, then
 * MD5, as RFC 8760 §2.4 orders them, both qop="auth"); `verify()` checks the credentials a request
 * carries in `header` (Authorization for REGISTER, Proxy-Authorization for INVITE... either is
 * accepted) against the user's stored HA1s.
 *
 * Nonce = `<issue time, hex ms>.<HMAC-SHA256(secret, time:realm), base64url, 128 bits>`. A nonce
 * whose HMAC does not match (another process, a restart) is treated like an expired one: a right
 * response over it gives `stale`, so clients re-authenticate silently instead of failing. There
 * is no nonce-count table, so a captured Authorization can be replayed within the nonce lifetime.
 */
export class DigestServer {
  readonly realm: string;
  private readonly secret: Buffer;
  private readonly lifetimeMs: number;
  private readonly now: () => number;

  constructor(opts: DigestServerOptions) {
    this.realm = opts.realm;
    this.secret = opts.secret ?? randomBytes(32);
    this.lifetimeMs = opts.nonceLifetimeMs ?? 300_000;
    this.now = opts.now ?? Date.now;
  }

  challenges(stale = false): string[] {
    const nonce = this.newNonce();
    const tail = `, qop="auth"${stale ? ', stale=true' : ''}`;
    return (['SHA-256', 'MD5'] as const).map((alg) => `Digest realm=${quote(this.realm)}, nonce=${quote(nonce)}, algorithm=${alg}${tail}`);
  }

  async verify(method: string, headerValues: readonly string[], lookup: (username: string) => Promise<StoredDigestSecrets | null>): Promise<DigestVerdict> {
    // §22.4: a request may carry credentials for several realms; only ours is considered.
    const creds = headerValues.map(parseCredentials).find((c) => c !== null && c.realm === this.realm);
    if (!creds) return { result: 'missing' };
    if (creds.qop !== null && creds.qop !== 'auth') return { result: 'failed', username: creds.username };
    const secrets = await lookup(creds.username);
    if (!secrets) return { result: 'failed', username: creds.username };
    const ha1 = creds.algorithm === 'SHA-256' ? secrets.ha1Sha256 : secrets.ha1Md5;
    const expected = digestResponse(creds.algorithm, ha1.toLowerCase(), { method, uri: creds.uri, nonce: creds.nonce, qop: creds.qop, nc: creds.nc, cnonce: creds.cnonce });
    if (!safeEqual(expected, creds.response.toLowerCase())) return { result: 'failed', username: creds.username };
    return this.nonceFresh(creds.nonce) ? { result: 'ok', username: creds.username } : { result: 'stale', username: creds.username };
  }

  private mac(issued: string): string {
    return createHmac('sha256', this.secret).update(`${issued}:${this.realm}`).digest().subarray(0, 16).toString('base64url');
  }

  private newNonce(): string {
    const issued = Math.floor(this.now()).toString(16);
    return `${issued}.${this.mac(issued)}`;
  }

  /** Ours (HMAC matches) and issued no longer than the lifetime ago (nor in the future). */
  private nonceFresh(nonce: string): boolean {
    const dot = nonce.indexOf('.');
    if (dot <= 0) return false;
    const issued = nonce.slice(0, dot);
    if (!/^[0-9a-f]{1,13}$/.test(issued) || !safeEqual(this.mac(issued), nonce.slice(dot + 1))) return false;
    const age = this.now() - parseInt(issued, 16);
    return age >= 0 && age <= this.lifetimeMs;
  }
}
