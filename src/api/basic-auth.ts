/**
 * HTTP Basic authentication with `AccountSid:AuthToken` (RFC 7617), as Twilio's REST API does.
 * Tokens are compared in constant time over SHA-256 digests (equal lengths whatever the input),
 * and an unknown account costs the same comparison, so timing reveals neither the token nor
 * whether an account exists. Routes read the caller with `authenticatedAccount(request)`.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { Account, AccountStore } from '../store/store-types.js';
import { errorBody, styleFor, unauthorized } from './api-errors.js';

export const AUTH_REALM = 'Patchbay';

const accounts = new WeakMap<FastifyRequest, Account>();
const DUMMY_TOKEN_DIGEST = createHash('sha256').update(randomBytes(32)).digest();

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
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

/** An `onRequest` hook that admits only requests carrying valid account credentials. */
export function basicAuth(store: Pick<AccountStore, 'getAccount'>): onRequestAsyncHookHandler {
  return async (request, reply) => {
    const creds = parseBasicAuth(request.headers.authorization);
    if (!creds) return deny(request, reply);
    // Only well-formed SIDs reach the store; anything else still pays for one comparison.
    const account = /^AC[0-9a-fA-F]{32}$/.test(creds.user) ? await store.getAccount(creds.user) : null;
    const expected = account ? digest(account.authToken) : DUMMY_TOKEN_DIGEST;
    const match = timingSafeEqual(digest(creds.password), expected);
    if (!account || !match) return deny(request, reply);
    accounts.set(request, account);
  };
}

/** The account that authenticated this request; throws if the route is not behind `basicAuth`. */
export function authenticatedAccount(request: FastifyRequest): Account {
  const account = accounts.get(request);
  if (!account) throw new Error('authenticatedAccount() called on a route without basicAuth');
  return account;
}
