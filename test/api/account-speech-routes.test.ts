import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createHttpServer } from '../../src/api/http-server.js';
import { MetricsRegistry } from '../../src/api/metrics.js';
import { PgliteStore } from '../../src/store/pglite-store.js';
import type { Account } from '../../src/store/store-types.js';
import { newSid } from '../../src/ids.js';

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

describe('account speech settings API', () => {
  let dir: string;
  let store: PgliteStore;
  let app: FastifyInstance;
  let alice: Account;
  let bob: Account;
  const asAlice = () => ({ authorization: basic(alice.sid, 'alice-secret') });
  const asBob = () => ({ authorization: basic(bob.sid, 'bob-secret') });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'patchbay-speech-api-'));
    store = await PgliteStore.open(join(dir, 'db'));
    alice = (await store.ensureAccount({ sid: newSid('AC'), authToken: 'alice-secret' })).account;
    bob = (await store.ensureAccount({ sid: newSid('AC'), authToken: 'bob-secret' })).account;
    app = createHttpServer({
      store,
      accountSid: alice.sid,
      isReady: () => true,
      metrics: () => '',
      registry: new MetricsRegistry(),
      speech: { serverRecognizers: ['pocketsphinx', 'openai'], defaultRecognizer: 'pocketsphinx' },
    });
    await app.ready();
  });

  after(async () => {
    await app?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const patch = (headers: Record<string, string>, payload: unknown) =>
    app.inject({ method: 'PATCH', url: '/v1/account/speech', headers: { ...headers, 'content-type': 'application/json' }, payload: JSON.stringify(payload) });

  it('starts on the server defaults', async () => {
    const res = await app.inject({ url: '/v1/account/speech', headers: asAlice() });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), {
      recognizer: null, language: null, deepgram: null, openai: null, websocket: null,
      effectiveRecognizer: 'pocketsphinx', availableRecognizers: ['pocketsphinx', 'openai'],
    });
  });

  it("stores the account's engine, language and own keys, shows keys masked, and keeps accounts apart", async () => {
    const res = await patch(asAlice(), { recognizer: 'Deepgram', language: 'en-GB', deepgram: { apiKey: 'dg-secret-key-7f3a', url: 'wss://dg.internal.example/' } });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.recognizer, 'deepgram');
    assert.equal(body.language, 'en-GB');
    assert.deepEqual(body.deepgram, { apiKey: '****7f3a', url: 'wss://dg.internal.example/' });
    assert.equal(body.effectiveRecognizer, 'deepgram');
    assert.deepEqual(body.availableRecognizers, ['pocketsphinx', 'deepgram', 'openai']);
    assert.ok(!res.body.includes('dg-secret'), 'the key never leaves in a response');
    // What the engine will use is the full key.
    assert.equal((await store.getSpeechSettings(alice.sid))?.deepgram?.apiKey, 'dg-secret-key-7f3a');
    assert.equal((await app.inject({ url: '/v1/account/speech', headers: asBob() })).json().recognizer, null);
  });

  it('changes only the fields given, and null removes one', async () => {
    const res = await patch(asAlice(), { language: null, websocket: { url: 'ws://127.0.0.1:8765/', token: 'tok' } });
    assert.equal(res.statusCode, 200, res.body);
    const s = await store.getSpeechSettings(alice.sid);
    assert.deepEqual(s, { recognizer: 'deepgram', deepgram: { apiKey: 'dg-secret-key-7f3a', url: 'wss://dg.internal.example/' }, websocket: { url: 'ws://127.0.0.1:8765/', token: 'tok' } });
    assert.deepEqual(res.json().websocket, { url: 'ws://127.0.0.1:8765/', token: '****' });
  });

  it('refuses an engine nobody can serve, and removing the credentials the chosen engine needs', async () => {
    const bad = await patch(asBob(), { recognizer: 'deepgram' });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().message, /not configured on this server/);
    const orphan = await patch(asAlice(), { deepgram: null });
    assert.equal(orphan.statusCode, 400);
    assert.equal((await store.getSpeechSettings(alice.sid))?.deepgram?.apiKey, 'dg-secret-key-7f3a', 'nothing changed');
    // The server's own OpenAI engine needs no account key.
    assert.equal((await patch(asBob(), { recognizer: 'openai' })).statusCode, 200);
  });

  it('answers bad input with a clear JSON 400 naming the field', async () => {
    const cases: [unknown, RegExp][] = [
      [[1, 2], /JSON object/],
      [{ recognizer: 'google' }, /recognizer must be one of/],
      [{ language: 'english please' }, /language/],
      [{ deepgram: { url: 'wss://x' } }, /deepgram.apiKey is required/],
      [{ deepgram: { apiKey: 'k', region: 'eu' } }, /unknown field "region"/],
      [{ openai: { apiKey: 'k', url: 'ftp://x' } }, /openai.url must be an absolute http\/https URL/],
      [{ websocket: { url: 'http://x' } }, /websocket.url must be an absolute ws\/wss URL/],
      [{ websocket: { url: 'ws://x', token: 'a\r\nInjected: 1' } }, /websocket.token/],
      [{ voice: 'x' }, /unknown field "voice"/],
    ];
    for (const [payload, message] of cases) {
      const res = await patch(asBob(), payload);
      assert.equal(res.statusCode, 400, JSON.stringify(payload));
      assert.equal(res.json().code, 20001);
      assert.match(res.json().message, message);
    }
    const notJson = await app.inject({ method: 'PATCH', url: '/v1/account/speech', headers: { ...asBob(), 'content-type': 'application/json' }, payload: '{nope' });
    assert.equal(notJson.statusCode, 400);
  });

  it('concurrent changes all land', async () => {
    await Promise.all([patch(asBob(), { language: 'fr-FR' }), patch(asBob(), { openai: { apiKey: 'sk-bob-123456789' } }), patch(asBob(), { websocket: { url: 'wss://asr.example/' } })]);
    const s = await store.getSpeechSettings(bob.sid);
    assert.equal(s?.language, 'fr-FR');
    assert.equal(s?.openai?.apiKey, 'sk-bob-123456789');
    assert.equal(s?.websocket?.url, 'wss://asr.example/');
  });

  it('needs credentials', async () => {
    assert.equal((await app.inject({ url: '/v1/account/speech' })).statusCode, 401);
    assert.equal((await patch({ authorization: basic(alice.sid, 'wrong') }, { language: 'de-DE' })).statusCode, 401);
    assert.notEqual((await store.getSpeechSettings(alice.sid))?.language, 'de-DE');
  });
});
