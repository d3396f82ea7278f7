import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { RecognizerCatalog } from '../../src/speech/recognizer-catalog.js';
import { accountRecognizers } from '../../src/speech/account-recognizers.js';
import { SttError, type SpeechRecognizer } from '../../src/speech/speech-recognizer.js';
import type { AccountSpeechSettings } from '../../src/store/store-types.js';

/** A named engine that is never opened here: the catalog only chooses. */
function engine(name: string): SpeechRecognizer & { closed: number } {
  return {
    name,
    closed: 0,
    open: () => Promise.reject(new SttError('unavailable', 'not used')),
    async close() {
      this.closed++;
    },
  };
}

describe('RecognizerCatalog', () => {
  const embedded = engine('pocketsphinx');
  const serverDeepgram = engine('deepgram');

  function catalog(settings: Record<string, AccountSpeechSettings> = {}, maxAccountEngines?: number): RecognizerCatalog {
    return new RecognizerCatalog({
      engines: [embedded, serverDeepgram],
      defaultEngine: 'pocketsphinx',
      accountSettings: async (sid) => settings[sid] ?? null,
      accountEngine: accountRecognizers,
      ...(maxAccountEngines ? { maxAccountEngines } : {}),
    });
  }

  it('serves speechModel by engine prefix and model, and Twilio model names by the default', async () => {
    const c = catalog();
    assert.deepEqual(await c.choose('deepgram_nova-2', 'AC1'), { recognizer: serverDeepgram, model: 'nova-2' });
    assert.deepEqual(await c.choose('Deepgram', 'AC1'), { recognizer: serverDeepgram });
    assert.deepEqual(await c.choose('phone_call', 'AC1'), { recognizer: embedded, substitutedFor: 'phone_call' });
    assert.deepEqual(await c.choose('default', 'AC1'), { recognizer: embedded });
    // Named but not configured on this server: the default serves it, flagged.
    assert.deepEqual(await c.choose('googlev2_telephony', 'AC1'), { recognizer: embedded, substitutedFor: 'googlev2_telephony' });
  });

  it("uses the account's default engine and language for requests that name none", async () => {
    const c = catalog({ AC1: { recognizer: 'deepgram', language: 'en-GB' } });
    assert.deepEqual(await c.choose('default', 'AC1'), { recognizer: serverDeepgram, language: 'en-GB' });
    assert.deepEqual(await c.choose('pocketsphinx', 'AC1'), { recognizer: embedded, language: 'en-GB' });
    assert.deepEqual(await c.choose('default', 'AC2'), { recognizer: embedded });
  });

  it("builds an engine from the account's own credentials, once per credentials, instead of the server's", async () => {
    const c = catalog({
      AC1: { deepgram: { apiKey: 'key-1', url: 'ws://127.0.0.1:9' } },
      AC2: { deepgram: { apiKey: 'key-1', url: 'ws://127.0.0.1:9' } },
      AC3: { deepgram: { apiKey: 'key-3' } },
      AC4: { recognizer: 'websocket', websocket: { url: 'ws://127.0.0.1:9/asr', token: 't' } },
    });
    const one = (await c.choose('deepgram_nova-3', 'AC1')).recognizer;
    assert.notEqual(one, serverDeepgram);
    assert.equal(one.name, 'deepgram');
    assert.equal((await c.choose('deepgram', 'AC2')).recognizer, one, 'same credentials, same engine');
    assert.notEqual((await c.choose('deepgram', 'AC3')).recognizer, one);
    const custom = await c.choose('default', 'AC4');
    assert.equal(custom.recognizer.name, 'websocket');
    // An account without credentials for an engine uses the server's, and one the server lacks falls back.
    assert.equal((await c.choose('deepgram', 'AC4')).recognizer, serverDeepgram);
    assert.equal((await c.choose('openai', 'AC4')).substitutedFor, 'openai');
  });

  it('keeps a bounded number of account engines, closing the coldest', async () => {
    const settings: Record<string, AccountSpeechSettings> = {};
    for (let i = 0; i < 5; i++) settings[`AC${i}`] = { deepgram: { apiKey: `key-${i}` } };
    const c = catalog(settings, 3);
    const first = (await c.choose('deepgram', 'AC0')).recognizer;
    for (let i = 1; i < 5; i++) await c.choose('deepgram', `AC${i}`);
    assert.notEqual((await c.choose('deepgram', 'AC0')).recognizer, first, 'evicted and rebuilt');
  });

  it('fails clearly when nothing can serve', async () => {
    const c = new RecognizerCatalog({ engines: [], defaultEngine: 'pocketsphinx' });
    await assert.rejects(c.choose('default', 'AC1'), (e: unknown) => e instanceof SttError && e.code === 'unavailable');
  });

  it('closes server and account engines', async () => {
    const a = engine('pocketsphinx');
    const c = new RecognizerCatalog({ engines: [a], defaultEngine: 'pocketsphinx' });
    await c.close();
    assert.equal(a.closed, 1);
  });
});
