import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readTwiml } from '../../src/verbs/twiml-reader.js';
import { readJsonVerbs } from '../../src/verbs/json-reader.js';
import { VerbDocumentError } from '../../src/verbs/verb-errors.js';
import { resolveStreamUrl } from '../../src/verbs/stream-executors.js';

function code(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    if (err instanceof VerbDocumentError) return err.code;
    throw err;
  }
  return undefined;
}

describe('<Start>/<Stop>/<Connect> with <Stream>', () => {
  it("reads Twilio's defaults and the same verbs from JSON", () => {
    const xml = readTwiml(
      '<Response><Start><Stream url="wss://agent.example/s" name="fork"><Parameter name="a" value="1"/><Parameter name="b" value="two"/></Stream></Start>' +
        '<Connect action="/next"><Stream url="/bot" format="l16" sampleRate="16000" speechEvents="true"/></Connect><Stop><Stream name="fork"/></Stop></Response>',
    );
    const json = readJsonVerbs([
      { verb: 'start', streams: [{ url: 'wss://agent.example/s', name: 'fork', parameters: { a: '1', b: 'two' } }] },
      { verb: 'connect', action: '/next', stream: { url: '/bot', format: 'l16', sampleRate: 16000, speechEvents: true } },
      { verb: 'stop', streams: ['fork'] },
    ]);
    assert.deepEqual(xml.verbs, json.verbs);
    assert.deepEqual(xml.verbs[0], {
      verb: 'start', action: null, method: 'POST',
      streams: [{ url: 'wss://agent.example/s', name: 'fork', track: 'inbound_track', statusCallback: null, statusCallbackMethod: 'POST', parameters: [['a', '1'], ['b', 'two']], format: 'twilio', sampleRate: 8000, speechEvents: false, clearOnSpeech: false }],
    });
    assert.deepEqual(xml.warnings, []);
  });

  it('refuses what cannot work, with coded errors', () => {
    assert.equal(code(() => readTwiml('<Response><Start><Stream url="https://x"/></Start></Response>')), 11100);
    assert.equal(code(() => readTwiml('<Response><Start><Stream/></Start></Response>')), 11100);
    assert.equal(code(() => readTwiml('<Response><Start/></Response>')), 12200);
    assert.equal(code(() => readTwiml('<Response><Connect><Stream url="wss://x"/><Stream url="wss://y"/></Connect></Response>')), 12200);
    assert.equal(code(() => readTwiml('<Response><Connect><Stream url="wss://x" track="both_tracks"/></Connect></Response>')), 12200);
    assert.equal(code(() => readTwiml('<Response><Start><Stream url="wss://x" track="left"/></Start></Response>')), 12200);
    assert.equal(code(() => readTwiml('<Response><Start><Stream url="wss://x" sampleRate="16000"/></Start></Response>')), 12200);
    assert.equal(code(() => readTwiml('<Response><Start><Stream url="wss://x" format="l16" sampleRate="44100"/></Start></Response>')), 12200);
    assert.equal(code(() => readTwiml(`<Response><Start><Stream url="wss://x"><Parameter name="p" value="${'v'.repeat(500)}"/></Stream></Start></Response>`)), 12200);
    assert.equal(code(() => readTwiml('<Response><Stop><Stream/></Stop></Response>')), 12200);
    assert.equal(code(() => readTwiml('<Response><Start><Siprec name="x"/></Start></Response>')), 12200);
    assert.equal(code(() => readJsonVerbs([{ verb: 'connect', stream: { url: 'wss://x', track: 'sideways' } }])), 12200);
  });

  it('resolves relative stream URLs against the document, http→ws and https→wss', () => {
    assert.equal(resolveStreamUrl('/bot?x=1', 'https://app.example/voice'), 'wss://app.example/bot?x=1');
    assert.equal(resolveStreamUrl('bot', 'http://127.0.0.1:3000/twiml/voice'), 'ws://127.0.0.1:3000/twiml/bot');
    assert.equal(resolveStreamUrl('wss://other.example/x', 'https://app.example/voice'), 'wss://other.example/x');
  });
});
