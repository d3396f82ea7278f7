/**
 * Twilio-compatible CRUD for one configuration resource (register once per resource with prefix
 * `/2010-04-01/Accounts/:AccountSid`): form bodies, snake_case JSON, RFC 2822 dates.
 *   GET    /{Path}.json           list page (§4.3 metadata, the resource's filters)
 *   POST   /{Path}.json           create → 201
 *   GET    /{Path}/{Sid}.json     fetch → 200
 *   POST   /{Path}/{Sid}.json     update → 200
 *   DELETE /{Path}/{Sid}.json     delete → 204
 * Behind Basic auth (auth token or API key); another account's SID, or a path naming another
 * account, is a 404 so SIDs cannot be probed. Only resources with a Twilio part are served here.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, notFound } from './api-errors.js';
import { authenticatedAccount, authenticatingApiKey, basicAuth, type AuthStore } from './basic-auth.js';
import { twilioResourceInput } from './config-input.js';
import type { ConfigRecord, ConfigResource, TwilioResourceNames } from './config-resource.js';
import { formOf, installTwilioForm } from './twilio-form.js';
import { queryValue, readTwilioPaging, twilioPage, twilioPageMeta } from './twilio-paging.js';

/** A resource that exists in Twilio's API: its names there and its Twilio JSON. */
export type TwilioConfigResource = ConfigResource<ConfigRecord> & {
  readonly twilio: TwilioResourceNames;
  twilioJson(record: ConfigRecord): Record<string, unknown>;
};

/** Narrows a resource to one the Twilio routes can serve (false for native-only resources). */
export function hasTwilioPart(resource: ConfigResource<ConfigRecord>): resource is TwilioConfigResource {
  return resource.twilio !== undefined && resource.twilioJson !== undefined;
}

export interface TwilioConfigRoutesOptions {
  store: AuthStore;
  resource: TwilioConfigResource;
}

type SidParams = { AccountSid: string; file: string };

function pathOf(request: FastifyRequest): string {
  return request.url.split('?')[0] ?? request.url;
}

const snakeCase = (name: string): string => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** 403 for a resource only the auth token may use (Twilio: API keys cannot manage keys). */
export function apiKeyForbidden(what: string): ApiError {
  return new ApiError(403, 20403, `${what} can only be managed with the account's auth token, not with an API key`);
}

export const twilioConfigRoutes: FastifyPluginAsync<TwilioConfigRoutesOptions> = async (app, opts) => {
  const resource = opts.resource;
  const { path, listKey, fields, filters } = resource.twilio;
  installTwilioForm(app);
  app.addHook('onRequest', basicAuth(opts.store));
  if (resource.authTokenOnly) {
    app.addHook('onRequest', async (request) => {
      if (authenticatingApiKey(request) !== null) throw apiKeyForbidden(path);
    });
  }

  const sidOf = (request: FastifyRequest<{ Params: SidParams }>): string => {
    const m = /^([A-Z]{2}[0-9a-fA-F]{32})\.json$/.exec(request.params.file);
    if (!m || !m[1]!.startsWith(resource.sidPrefix)) throw notFound(pathOf(request));
    return m[1]!;
  };
  const sendJson = (reply: FastifyReply, status: number, body: Record<string, unknown>): FastifyReply =>
    reply.code(status).type('application/json; charset=utf-8').send(body);

  app.get(`/${path}.json`, async (request, reply) => {
    const account = authenticatedAccount(request);
    const paging = readTwilioPaging(request.query);
    const given: Record<string, string> = {};
    const echoed: Record<string, string | undefined> = {};
    for (const [twilioName, native] of Object.entries(filters)) {
      const value = queryValue(request.query, twilioName);
      if (value !== undefined) given[native] = echoed[twilioName] = value;
    }
    const page = await resource.list(account.sid, given, paging.pageSize, paging.pageToken);
    const meta = twilioPageMeta({ path: pathOf(request), filters: echoed, paging, count: page.items.length, nextPageToken: page.nextPageToken });
    return sendJson(reply, 200, twilioPage(listKey, page.items.map((r) => resource.twilioJson(r)), meta));
  });

  app.post(`/${path}.json`, async (request, reply) => {
    const account = authenticatedAccount(request);
    const { record, once } = await resource.create(account.sid, twilioResourceInput(formOf(request), fields));
    const body = resource.twilioJson(record);
    for (const [k, v] of Object.entries(once ?? {})) body[snakeCase(k)] = v;
    return sendJson(reply, 201, body);
  });

  app.get<{ Params: SidParams }>(`/${path}/:file`, async (request, reply) => {
    const record = await resource.get(authenticatedAccount(request).sid, sidOf(request));
    if (!record) throw notFound(pathOf(request));
    return sendJson(reply, 200, resource.twilioJson(record));
  });

  app.post<{ Params: SidParams }>(`/${path}/:file`, async (request, reply) => {
    const sid = sidOf(request);
    const record = await resource.update(authenticatedAccount(request).sid, sid, twilioResourceInput(formOf(request), fields));
    if (!record) throw notFound(pathOf(request));
    return sendJson(reply, 200, resource.twilioJson(record));
  });

  app.delete<{ Params: SidParams }>(`/${path}/:file`, async (request, reply) => {
    if (!(await resource.remove(authenticatedAccount(request).sid, sidOf(request)))) throw notFound(pathOf(request));
    return reply.code(204).send();
  });
};
