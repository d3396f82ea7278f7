import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Validator } from '@seriousme/openapi-schema-validator';
import type { FastifyInstance } from 'fastify';
import { createHttpServer } from '../../src/api/http-server.js';
import { MetricsRegistry } from '../../src/api/metrics.js';
import type { CallService } from '../../src/calls/call-service.js';
import { newSid } from '../../src/ids.js';
import { PgliteStore } from '../../src/store/pglite-store.js';

/** Never called: the document only needs the routes a CallService makes the server register. */
const calls: CallService = {
  create: () => Promise.reject(new Error('not used')),
  update: () => Promise.reject(new Error('not used')),
  live: () => null,
};

interface Operation {
  summary?: string;
  tags?: string[];
}

describe('OpenAPI document', () => {
  let dir: string;
  let store: PgliteStore;
  let app: FastifyInstance;
  const routes: { method: string; url: string }[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'patchbay-openapi-'));
    store = await PgliteStore.open(dir);
    const { account } = await store.ensureAccount({ sid: newSid('AC') });
    const registry = new MetricsRegistry();
    // Every optional part given, so every route the server can serve is registered.
    app = createHttpServer({
      store, calls, dataDir: dir, liveCalls: { get: () => undefined }, accountSid: account.sid,
      isReady: () => true, metrics: () => registry.render(), registry, sipRealm: 'patchbay',
      registrations: { bindings: () => [], bindingsOf: () => [] },
    });
    app.addHook('onRoute', (route) => {
      for (const method of [route.method].flat()) routes.push({ method: String(method).toLowerCase(), url: route.url });
    });
    await app.ready();
  });
  after(async () => {
    await app?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const fetchDocument = async (): Promise<Record<string, unknown> & { paths: Record<string, Record<string, Operation>> }> => {
    const res = await app.inject({ url: '/v1/openapi.json' });
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    return res.json();
  };

  it('is served without authentication and validates as OpenAPI 3.1', async () => {
    const doc = await fetchDocument();
    assert.equal(doc.openapi, '3.1.0');
    const result = await new Validator().validate(doc);
    assert.deepEqual(result.errors ?? [], []);
    assert.equal(result.valid, true);
    assert.deepEqual((doc.components as { securitySchemes: unknown }).securitySchemes, {
      basic: { type: 'http', scheme: 'basic', description: 'AccountSid:AuthToken or ApiKeySid (SK…):ApiKeySecret' },
    });
    assert.deepEqual(doc.security, [{ basic: [] }]);
  });

  it('documents every /v1 route with its method, a summary and tags, and nothing else', async () => {
    const doc = await fetchDocument();
    const v1 = routes.filter((r) => r.url.startsWith('/v1/') && r.url !== '/v1/openapi.json' && r.method !== 'head');
    // The routes this brief adds are among them (a guard against collecting nothing).
    for (const expected of [
      'get /v1/numbers', 'post /v1/numbers', 'patch /v1/numbers/:sid', 'delete /v1/keys/:sid', 'get /v1/applications/:sid', 'get /v1/calls',
      'post /v1/carriers', 'patch /v1/carriers/:sid', 'post /v1/users', 'delete /v1/users/:sid', 'get /v1/registrations', 'get /v1/users/:sid/registrations',
    ]) {
      assert.ok(v1.some((r) => `${r.method} ${r.url}` === expected), expected);
    }
    const documented = new Set<string>();
    for (const [path, item] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(item)) {
        documented.add(`${method} ${path}`);
        assert.ok(op.summary && op.summary.length > 0, `${method} ${path} has a summary`);
        assert.ok(op.tags && op.tags.length > 0, `${method} ${path} has tags`);
      }
    }
    // OpenAPI writes path parameters as {sid}; fastify as :sid.
    const asOpenApi = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    for (const r of v1) assert.ok(documented.has(`${r.method} ${asOpenApi(r.url)}`), `${r.method} ${r.url} is documented`);
    for (const key of documented) assert.match(key, /^[a-z]+ \/v1\//, `${key}: only /v1 routes are documented`);
    assert.ok(!Object.keys(doc.paths).includes('/v1/openapi.json'));
  });

  it('describes the configuration resources from their schemas', async () => {
    const doc = await fetchDocument();
    const create = doc.paths['/v1/numbers']!.post as Operation & { requestBody: { content: Record<string, { schema: { required?: string[]; properties: Record<string, unknown> } }> } };
    assert.deepEqual(create.tags, ['Numbers']);
    const body = create.requestBody.content['application/json']!.schema;
    assert.deepEqual(body.required, ['phoneNumber']);
    assert.ok('voiceApplicationSid' in body.properties);
    const keyCreated = (doc.paths['/v1/keys']!.post as unknown as { responses: Record<string, { content: Record<string, { schema: { properties: Record<string, unknown> } }> }> }).responses['201']!;
    assert.ok('secret' in keyCreated.content['application/json']!.schema.properties);
    // Carriers and users: typed bodies, write-only secrets, the 409 a taken username gets.
    type Described = { requestBody: { content: Record<string, { schema: { required?: string[]; properties: Record<string, { type?: unknown }> } }> }; responses: Record<string, { content?: Record<string, { schema: { properties: Record<string, unknown> } }> }> };
    const carrier = doc.paths['/v1/carriers']!.post as unknown as Described;
    const carrierBody = carrier.requestBody.content['application/json']!.schema;
    assert.deepEqual(carrierBody.required, ['host']);
    assert.equal(carrierBody.properties.port?.type, 'integer');
    assert.equal(carrierBody.properties.prefixes?.type, 'array');
    const carrierOut = carrier.responses['201']!.content!['application/json']!.schema.properties;
    assert.ok('hasPassword' in carrierOut && !('password' in carrierOut));
    const user = doc.paths['/v1/users']!.post as unknown as Described;
    assert.deepEqual(user.requestBody.content['application/json']!.schema.required, ['username', 'password']);
    const userOut = user.responses['201']!.content!['application/json']!.schema.properties;
    assert.ok(!('password' in userOut) && !('ha1Md5' in userOut) && !('ha1Sha256' in userOut));
    assert.ok('409' in user.responses);
  });
});
