/**
 * HTTP Digest authentication as SIP uses it (RFC 3261 §22, RFC 2617, RFC 7616 for the hashing,
 * RFC 8760 for SHA-256 in SIP): parsing challenges and credentials, computing responses, and a
 * stateless server side whose nonces carry their own issue time and an HMAC, so any request can
 * be checked without a nonce table (expired nonces are answered `stale=true`, as §22.4 allows).
 *
 * CONTRACT (written before the implementation; keep the exported names and shapes).
 */
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

/** hex H(username:realm:password) for the algorithm. */
export declare function digestHa1(algorithm: DigestAlgorithm, username: string, realm: string, password: string): string;

/** Null when the value is not a Digest challenge with a realm and a nonce (or names an unsupported algorithm). */
export declare function parseChallenge(value: string): DigestChallenge | null;

/** Null when the value is not Digest credentials with the required fields. */
export declare function parseCredentials(value: string): DigestCredentials | null;

/**
 * Client side: the Authorization / Proxy-Authorization value answering `challenge` for a request
 * `method` to `uri` (qop=auth when offered, else none; a fresh cnonce; `nc` counts uses of this nonce).
 */
export declare function authorizationFor(challenge: DigestChallenge, creds: { username: string; password: string }, method: string, uri: string, nc: number): string;

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

/**
 * Server side for one realm. `challenges()` gives the header values to send (SHA-256 first, then
 * MD5, as RFC 8760 §2.4 orders them, both qop="auth"); `verify()` checks the credentials a request
 * carries in `header` (Authorization for REGISTER, Proxy-Authorization for INVITE... either is
 * accepted) against the user's stored HA1s.
 */
export declare class DigestServer {
  readonly realm: string;
  constructor(opts: DigestServerOptions);
  challenges(stale?: boolean): string[];
  verify(method: string, headerValues: readonly string[], lookup: (username: string) => Promise<StoredDigestSecrets | null>): Promise<DigestVerdict>;
}
