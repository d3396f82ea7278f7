/**
 * HTTP Basic authentication (RFC 7617) as Twilio's REST API does it: `AccountSid:AuthToken`, or
 * `ApiKeySid:ApiKeySecret` (an `SK…` key acts for the account that owns it). Secrets are compared
 * in constant time over SHA-256 digests (equal lengths whatever the input; a key's secret is only
 * stored as its SHA-256), and an unknown account or key costs the same comparison, so timing
 * reveals neither the secret nor whether the SID exists. A route under
 * `/2010-04-01/Accounts/:AccountSid` whose path names another account answers 404 (never 403), so
 * SIDs cannot be probed. Routes read the caller with `authenticatedAccount(request)`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { Account, AccountStore, ApiKeyStore } from '../store/store-types.js';
import { errorBody, notFound, styleFor, unauthorized } from './api-errors.js';

export const AUTH_REALM = 'Patchbay';

/** Who authenticated a request: the account, and the API key used (null for the auth token). */
interface Caller {
  account: Account;
  apiKeySid: string | null;
}

const callers = new WeakMap<FastifyRequest, Caller>();
const DUMMY_TOKEN_DIGEST = createHash('sha256').update(randomBytes(32)).digest();
const ACCOUNT_SID = /^AC[0-9a-fA-F]{32}$/;
const API_KEY_SID = /^SK[0-9a-fA-F]{32}$/;
const SHA256_HEX = /^[0-9a-f]{64}$/;

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** The SHA-256 (lower-case hex) an API key's secret is stored as. */
export function apiKeySecretSha256(secret: string): string {
  return digest(secret).toString('hex');
}

/**
 * What authentication reads. `findApiKey` is optional so route plugins typed with an account store
 * only still compile; the real store has it, and without it `SK…` credentials are simply refused.
 */
export type AuthStore = Pick<AccountStore, 'getAccount'> & Partial<Pick<ApiKeyStore, 'findApiKey'>>;

async function verify(store: AuthStore, user: string, password: string): Promise<Caller | null> {
  const given = digest(password);
  if (API_KEY_SID.test(user) && store.findApiKey) {
    const key = await store.findApiKey(user);
    const stored = key && SHA256_HEX.test(key.secretSha256) ? Buffer.from(key.secretSha256, 'hex') : DUMMY_TOKEN_DIGEST;
    const match = timingSafeEqual(given, stored);
    // The owner is read after the comparison, so a missing key and a wrong secret cost the same.
    const account = key && match ? await store.getAccount(key.accountSid) : null;
    return account ? { account, apiKeySid: key!.sid } : null;
  }
  // Only well-formed SIDs reach the store; anything else still pays for one comparison.
  const account = ACCOUNT_SID.test(user) ? await store.getAccount(user) : null;
  const match = timingSafeEqual(given, account ? digest(account.authToken) : DUMMY_TOKEN_DIGEST);
  return account && match ? { account, apiKeySid: null } : null;
}

/** Username and password from an `Authorization: Basic …` header, or null if absent/malformed. */
export function parseBasicAuth(header: string | undefined): { user: string; password: string } | null {
  if (!header) return null;
  const m = /^basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header);
  if (!m) return null;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return null;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

// Returning the reply from an async hook tells fastify the response is sent and the chain ends.
function deny(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  return reply
    .code(401)
    .header('WWW-Authenticate', `Basic realm="${AUTH_REALM}", charset="UTF-8"`)
    .type('application/json; charset=utf-8')
    .send(errorBody(unauthorized(), styleFor(request)));
}

/**
 * An `onRequest` hook that admits only requests carrying valid account or API-key credentials, and
 * answers 404 when a `:AccountSid` path parameter names an account other than the caller's.
 */
export function basicAuth(store: AuthStore): onRequestAsyncHookHandler {
  return async (request, reply) => {
    const creds = parseBasicAuth(request.headers.authorization);
    const caller = creds ? await verify(store, creds.user, creds.password) : null;
    if (!caller) return deny(request, reply);
    const pathAccount = (request.params as { AccountSid?: unknown } | undefined)?.AccountSid;
    if (pathAccount !== undefined && pathAccount !== caller.account.sid) throw notFound(request.url.split('?')[0] ?? request.url);
    callers.set(request, caller);
  };
}

function callerOf(request: FastifyRequest): Caller {
  const caller = callers.get(request);
  if (!caller) throw new Error('authenticatedAccount() called on a route without basicAuth');
  return caller;
}

/** Whether `basicAuth` admitted this request (the HTTP server's fail-closed check). */
export function isAuthenticated(request: FastifyRequest): boolean {
  return callers.has(request);
}

/** The account that authenticated this request; throws if the route is not behind `basicAuth`. */
export function authenticatedAccount(request: FastifyRequest): Account {
  return callerOf(request).account;
}

/** The API key (`SK…`) this request authenticated with; null when it used the account's auth token. */
export function authenticatingApiKey(request: FastifyRequest): string | null {
  return callerOf(request).apiKeySid;
}
