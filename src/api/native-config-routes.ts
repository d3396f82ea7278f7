/**
 * Native JSON CRUD for one configuration resource (register once per resource with prefix `/v1`):
 *   GET    /{path}          list, newest first, keyset paged (pageSize, pageToken → nextPageToken, nextPageUri)
 *   POST   /{path}          create → 201
 *   GET    /{path}/:sid     fetch
 *   PATCH  /{path}/:sid     update: fields given change, null clears
 *   DELETE /{path}/:sid     delete → 204
 * camelCase JSON, ISO 8601 dates. Every route carries a full schema (the OpenAPI document is built
 * from them); request schemas check types only, the resource's validators check meaning, so both
 * dialects refuse the same values with the same codes. Responses are serialised through the
 * record schema, so nothing outside it (such as a key's stored hash) can leak. A resource with a
 * typed body (carriers: a port, flags, lists) gets its values as the schema typed them.
 */
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { badRequest, notFound } from './api-errors.js';
import { authenticatedAccount, authenticatingApiKey, basicAuth, type AuthStore } from './basic-auth.js';
import { nativeResourceInput } from './config-input.js';
import type { ConfigRecord, ConfigResource, InputValue, TypedResourceInput } from './config-resource.js';
import { apiKeyForbidden } from './twilio-config-routes.js';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './twilio-paging.js';

export interface NativeConfigRoutesOptions {
  store: AuthStore;
  resource: ConfigResource<ConfigRecord, TypedResourceInput>;
}

interface ListQuery {
  pageSize: number;
  pageToken?: string;
  [filter: string]: string | number | undefined;
}

function pathOf(request: FastifyRequest): string {
  return request.url.split('?')[0] ?? request.url;
}

/** The native error body's schema (shared by the other /v1 route plugins). */
export const errorSchema = {
  type: 'object',
  description: 'Error (code: Twilio error code)',
  properties: { code: { type: 'integer' }, message: { type: 'string' }, moreInfo: { type: 'string' }, status: { type: 'integer' }, detail: { type: 'string' } },
} as const;

/**
 * A typed native body as input: an object of known fields whose values the route schema has
 * already typed (and coerced); anything else is refused here too, so a resource never sees a
 * value its schema does not allow. An empty string clears, as in the string-only bodies.
 */
export function typedResourceInput(body: unknown, fields: readonly string[]): TypedResourceInput {
  const values = new Map<string, InputValue>();
  if (body !== undefined && body !== null) {
    if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('The body must be a JSON object');
    for (const [key, value] of Object.entries(body)) {
      if (!fields.includes(key)) throw badRequest(`Unknown field "${key}"`);
      if (value === null || value === '') values.set(key, null);
      else if (typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) values.set(key, value);
      else if (Array.isArray(value) && value.every((v): v is string => typeof v === 'string')) values.set(key, value);
      else throw badRequest(`Invalid ${key}: must be a string, number, boolean, list of strings or null`);
    }
  }
  return { values, spell: (field) => field };
}

export const nativeConfigRoutes: FastifyPluginAsync<NativeConfigRoutesOptions> = async (app, opts) => {
  const resource = opts.resource;
  const { path, listKey, tag, singular, plural, body, required, filters, record, createdOnce, typedBody, conflict } = resource.native;
  const inputOf = (requestBody: unknown): TypedResourceInput =>
    typedBody ? typedResourceInput(requestBody, Object.keys(body)) : nativeResourceInput(requestBody, Object.keys(body));
  app.addHook('onRequest', basicAuth(opts.store));
  if (resource.authTokenOnly) {
    app.addHook('onRequest', async (request) => {
      if (authenticatingApiKey(request) !== null) throw apiKeyForbidden(plural);
    });
  }

  const recordSchema = { type: 'object', properties: record };
  const sidParams = { type: 'object', properties: { sid: { type: 'string', description: `The ${singular}'s SID (${resource.sidPrefix}…)` } }, required: ['sid'] };
  const errors = { 400: errorSchema, 401: errorSchema, 404: errorSchema };
  const writeErrors = conflict ? { ...errors, 409: { ...errorSchema, description: `Conflict: ${conflict}` } } : errors;
  const tags = [tag];

  app.get<{ Querystring: ListQuery }>(`/${path}`, {
    schema: {
      summary: `List ${plural}`,
      description: `The account's ${plural}, newest first. Follow nextPageUri (or pass nextPageToken as pageToken) for the next page.`,
      tags,
      querystring: {
        type: 'object',
        properties: {
          pageSize: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE },
          pageToken: { type: 'string', minLength: 1, maxLength: 200 },
          ...Object.fromEntries(filters.map((f) => [f, { type: 'string', description: `Only ${plural} with exactly this ${f}` }])),
        },
      },
      response: {
        200: {
          type: 'object',
          properties: { [listKey]: { type: 'array', items: recordSchema }, nextPageToken: { type: ['string', 'null'] }, nextPageUri: { type: ['string', 'null'] } },
        },
        ...errors,
      },
    },
  }, async (request) => {
    const account = authenticatedAccount(request);
    const { pageSize, pageToken } = request.query;
    const given: Record<string, string> = {};
    for (const f of filters) {
      const value = request.query[f];
      if (typeof value === 'string') given[f] = value;
    }
    const page = await resource.list(account.sid, given, pageSize, pageToken);
    let nextPageUri: string | null = null;
    if (page.nextPageToken) {
      // Relative, like /v1/calls: the client prepends its own base URL.
      const params = new URLSearchParams({ ...given, pageSize: String(pageSize), pageToken: page.nextPageToken });
      nextPageUri = `${pathOf(request)}?${params.toString()}`;
    }
    return { [listKey]: page.items.map((r) => resource.nativeJson(r)), nextPageToken: page.nextPageToken, nextPageUri };
  });

  app.post(`/${path}`, {
    schema: {
      summary: `Create ${a(singular)}`,
      tags,
      body: { type: 'object', properties: body, required: [...required] },
      response: { 201: { type: 'object', properties: { ...record, ...(createdOnce ?? {}) } }, ...writeErrors },
    },
  }, async (request, reply) => {
    const { record: created, once } = await resource.create(authenticatedAccount(request).sid, inputOf(request.body));
    return reply.code(201).send({ ...resource.nativeJson(created), ...(once ?? {}) });
  });

  app.get<{ Params: { sid: string } }>(`/${path}/:sid`, {
    schema: { summary: `Fetch ${a(singular)}`, tags, params: sidParams, response: { 200: recordSchema, ...errors } },
  }, async (request) => {
    const found = await resource.get(authenticatedAccount(request).sid, request.params.sid);
    if (!found) throw notFound(pathOf(request));
    return resource.nativeJson(found);
  });

  app.patch<{ Params: { sid: string } }>(`/${path}/:sid`, {
    schema: {
      summary: `Update ${a(singular)}`,
      description: 'Fields given replace the stored ones; null clears a field (a method goes back to POST).',
      tags,
      params: sidParams,
      body: { type: 'object', properties: body },
      response: { 200: recordSchema, ...writeErrors },
    },
  }, async (request) => {
    const updated = await resource.update(authenticatedAccount(request).sid, request.params.sid, inputOf(request.body));
    if (!updated) throw notFound(pathOf(request));
    return resource.nativeJson(updated);
  });

  app.delete<{ Params: { sid: string } }>(`/${path}/:sid`, {
    schema: { summary: `Delete ${a(singular)}`, tags, params: sidParams, response: { 204: { type: 'null', description: 'Deleted' }, ...errors } },
  }, async (request, reply) => {
    if (!(await resource.remove(authenticatedAccount(request).sid, request.params.sid))) throw notFound(pathOf(request));
    return reply.code(204).send();
  });
};

/** "a number", "an application", "an API key". */
function a(noun: string): string {
  return /^[aeiouAEIOU]/.test(noun) ? `an ${noun}` : `a ${noun}`;
}
