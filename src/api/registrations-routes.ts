/**
 * Who is registered (register with prefix `/v1`): the registrar's live bindings of the account's
 * SIP users, read-only.
 *   GET /registrations[?userSid=US…]     every binding of the account (or of one user)
 *   GET /users/:sid/registrations        one user's bindings; 404 when the user is not the account's
 * The registrar (calls/) keeps the bindings in memory; without one (`directory` absent) the lists
 * are empty. `source` is where requests to the device go (`udp:203.0.113.7:5060`,
 * `tcp:[2001:db8::1]:5062`), `expiresIn` the whole seconds left by the given clock.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { RegistrationBinding, RegistrationDirectory } from '../calls/registrar-types.js';
import type { SipUserStore } from '../store/store-types.js';
import { notFound } from './api-errors.js';
import { authenticatedAccount, basicAuth, type AuthStore } from './basic-auth.js';
import { errorSchema } from './native-config-routes.js';

export interface RegistrationsRoutesOptions {
  store: AuthStore & Pick<SipUserStore, 'getSipUser'>;
  directory?: RegistrationDirectory;
  /** Wall clock in ms for `expiresIn` (injectable for tests); default Date.now. */
  now?: () => number;
}

export function registrationJson(b: RegistrationBinding, nowMs: number): Record<string, unknown> {
  const host = b.source.host.includes(':') ? `[${b.source.host}]` : b.source.host;
  return {
    userSid: b.userSid,
    username: b.username,
    contact: b.contact,
    source: `${b.source.transport}:${host}:${b.source.port}`,
    userAgent: b.userAgent,
    registeredAt: b.registeredAt.toISOString(),
    expiresAt: b.expiresAt.toISOString(),
    // Rounded down: a client told "60" may rely on the binding for 60 more seconds.
    expiresIn: Math.max(0, Math.floor((b.expiresAt.getTime() - nowMs) / 1000)),
  };
}

const registrationSchema = {
  type: 'object',
  properties: {
    userSid: { type: 'string' },
    username: { type: 'string' },
    contact: { type: 'string', description: 'The Contact URI the device registered' },
    source: { type: 'string', description: 'transport:host:port the REGISTER came from, where calls to the device go' },
    userAgent: { type: ['string', 'null'] },
    registeredAt: { type: 'string', format: 'date-time' },
    expiresAt: { type: 'string', format: 'date-time' },
    expiresIn: { type: 'integer', description: 'Whole seconds until the binding expires' },
  },
} as const;

const listSchema = { type: 'object', properties: { registrations: { type: 'array', items: registrationSchema } } } as const;
const tags = ['Registrations'];

export const registrationsRoutes: FastifyPluginAsync<RegistrationsRoutesOptions> = async (app, opts) => {
  const now = opts.now ?? Date.now;
  app.addHook('onRequest', basicAuth(opts.store));
  const listOf = (accountSid: string, userSid?: string): { registrations: Record<string, unknown>[] } => {
    const at = now();
    return { registrations: (opts.directory?.bindings(accountSid, userSid) ?? []).map((b) => registrationJson(b, at)) };
  };

  app.get<{ Querystring: { userSid?: string } }>('/registrations', {
    schema: {
      summary: 'List registrations',
      description: 'Live bindings of the account\'s SIP users (devices registered now), optionally of one user.',
      tags,
      querystring: { type: 'object', properties: { userSid: { type: 'string', description: 'Only this user\'s (US…) bindings' } } },
      response: { 200: listSchema, 400: errorSchema, 401: errorSchema },
    },
  }, async (request) => listOf(authenticatedAccount(request).sid, request.query.userSid));

  app.get<{ Params: { sid: string } }>('/users/:sid/registrations', {
    schema: {
      summary: 'List a SIP user\'s registrations',
      tags,
      params: { type: 'object', properties: { sid: { type: 'string', description: 'The SIP user\'s SID (US…)' } }, required: ['sid'] },
      response: { 200: listSchema, 401: errorSchema, 404: errorSchema },
    },
  }, async (request) => {
    const account = authenticatedAccount(request);
    if (!(await opts.store.getSipUser(account.sid, request.params.sid))) throw notFound(request.url.split('?')[0] ?? request.url);
    return listOf(account.sid, request.params.sid);
  });
};
