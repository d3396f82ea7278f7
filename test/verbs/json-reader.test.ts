import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { readJsonVerbs } from '../../src/verbs/json-reader.js';
import { readTwiml } from '../../src/verbs/twiml-reader.js';
import { VerbDocumentError } from '../../src/verbs/verb-errors.js';
import { PENDING_VERBS } from '../../src/verbs/verb-model.js';

const schema = JSON.parse(readFileSync(new URL('../../src/verbs/json-verbs.schema.json', import.meta.url), 'utf8')) as Record<string, unknown>;

function errorCode(json: unknown): number {
  try {
    readJsonVerbs(json);
  } catch (err) {
    assert.ok(err instanceof VerbDocumentError, `expected VerbDocumentError, got ${String(err)}`);
    return err.code;
  }
  assert.fail(`no error for ${JSON.stringify(json)}`);
}

describe('readJsonVerbs: documents', () => {
  it('reads an array of verbs with defaults', () => {
    const doc = readJsonVerbs([{ verb: 'say', text: 'Hello' }, { verb: 'hangup' }]);
    assert.deepEqual(doc, { verbs: [{ verb: 'say', text: 'Hello', voice: 'man', language: 'en-US', loop: 1 }, { verb: 'hangup' }], warnings: [] });
  });

  it('reads {"verbs": [...]} and JSON text', () => {
    const expected = [{ verb: 'pause', length: 1 }];
    assert.deepEqual(readJsonVerbs({ verbs: [{ verb: 'pause' }] }).verbs, expected);
    assert.deepEqual(readJsonVerbs('{"verbs":[{"verb":"pause"}]}').verbs, expected);
    assert.deepEqual(readJsonVerbs('[]').verbs, []);
  });

  it('reads every verb and attribute', () => {
    const doc = readJsonVerbs([
      { verb: 'say', text: 'Bonjour', voice: 'Polly.Celine', language: 'fr-FR', loop: 0 },
      { verb: 'play', url: 'media/a.wav', loop: 2 },
      { verb: 'play', digits: '1234#' },
      { verb: 'pause', length: 3 },
      { verb: 'reject', reason: 'busy' },
      { verb: 'redirect', url: '/next', method: 'GET' },
    ]);
    assert.deepEqual(doc.verbs, [
      { verb: 'say', text: 'Bonjour', voice: 'Polly.Celine', language: 'fr-FR', loop: 0 },
      { verb: 'play', url: 'media/a.wav', digits: null, loop: 2 },
      { verb: 'play', url: null, digits: '1234#', loop: 1 },
      { verb: 'pause', length: 3 },
      { verb: 'reject', reason: 'busy' },
      { verb: 'redirect', url: '/next', method: 'GET' },
    ]);
  });

  it('warns about unknown properties (12200) instead of failing, like unknown TwiML attributes', () => {
    const doc = readJsonVerbs({ verbs: [{ verb: 'hangup', reason: 'x' }], version: 2 });
    assert.deepEqual(doc.verbs, [{ verb: 'hangup' }]);
    assert.deepEqual(doc.warnings.map((w) => w.code), [12200, 12200]);
  });

  it('skips an empty say with warning 13520', () => {
    const doc = readJsonVerbs([{ verb: 'say', text: ' ' }]);
    assert.deepEqual(doc.verbs, []);
    assert.equal(doc.warnings[0]?.code, 13520);
  });
});

describe('readJsonVerbs: errors', () => {
  const cases: Array<[string, unknown, number]> = [
    ['malformed JSON text', '[{"verb":', 12100],
    ['wrong root', { say: 'hi' }, 12102],
    ['scalar root', 42, 12102],
    ['verb not an object', ['hangup'], 12200],
    ['missing verb name', [{ text: 'hi' }], 12200],
    ['unknown verb', [{ verb: 'speak', text: 'hi' }], 12200],
    ['wrong-case verb', [{ verb: 'Say', text: 'hi' }], 12200],
    ['say loop negative', [{ verb: 'say', text: 'x', loop: -1 }], 13510],
    ['say loop string', [{ verb: 'say', text: 'x', loop: '2' }], 13510],
    ['say voice', [{ verb: 'say', text: 'x', voice: 'robot voice' }], 13511],
    ['say text not a string', [{ verb: 'say', text: 5 }], 13520],
    ['say bad ssml', [{ verb: 'say', ssml: 'a <b' }], 12100],
    ['say language', [{ verb: 'say', text: 'x', language: 'english please' }], 12200],
    ['play loop', [{ verb: 'play', url: 'a.mp3', loop: 1.5 }], 13410],
    ['play without url or digits', [{ verb: 'play' }], 11100],
    ['play empty url', [{ verb: 'play', url: '' }], 11100],
    ['play bad scheme', [{ verb: 'play', url: 'ftp://x/a.mp3' }], 11100],
    ['play digits', [{ verb: 'play', digits: '12x' }], 12200],
    ['pause length 0', [{ verb: 'pause', length: 0 }], 13910],
    ['pause length string', [{ verb: 'pause', length: '5' }], 13910],
    ['reject reason', [{ verb: 'reject', reason: 'nope' }], 13810],
    ['redirect method', [{ verb: 'redirect', url: '/x', method: 'PUT' }], 13710],
    ['redirect without url', [{ verb: 'redirect' }], 11100],
  ];
  for (const [name, json, code] of cases) {
    it(`${name} -> ${code}`, () => assert.equal(errorCode(json), code));
  }

  it('rejects every planned verb as known-but-not-supported-yet (12200)', () => {
    for (const json of Object.values(PENDING_VERBS)) {
      assert.throws(() => readJsonVerbs([{ verb: json }]), (err: unknown) => err instanceof VerbDocumentError && err.code === 12200 && /not supported yet/.test(err.message));
    }
  });
});

describe('TwiML and JSON produce the same model', () => {
  const pairs: Array<[string, unknown]> = [
    ['<Response><Say>Hello   world</Say><Hangup/></Response>', [{ verb: 'say', text: 'Hello world' }, { verb: 'hangup' }]],
    [
      '<Response><Say voice="woman" language="en-GB" loop="2">Hi</Say><Play loop="3">https://a.test/x.mp3</Play><Play digits="9w1"/></Response>',
      [{ verb: 'say', text: 'Hi', voice: 'woman', language: 'en-GB', loop: 2 }, { verb: 'play', url: 'https://a.test/x.mp3', loop: 3 }, { verb: 'play', digits: '9w1' }],
    ],
    ['<Response><Pause length="4"/><Reject reason="busy"/></Response>', { verbs: [{ verb: 'pause', length: 4 }, { verb: 'reject', reason: 'busy' }] }],
    ['<Response><Redirect method="GET">../next</Redirect></Response>', [{ verb: 'redirect', url: '../next', method: 'GET' }]],
    ['<Response><Say>Hi <break time="500ms"/> &amp; <prosody rate="slow">bye</prosody></Say></Response>', [{ verb: 'say', ssml: 'Hi <break time="500ms"/> &amp; <prosody rate="slow">bye</prosody>' }]],
    ['<Response/>', []],
  ];
  for (const [xml, json] of pairs) {
    it(xml, () => assert.deepEqual(readJsonVerbs(json), readTwiml(xml)));
  }

  it('reports the same code for the same mistake', () => {
    const mistakes: Array<[string, unknown]> = [
      ['<Response><Say loop="-2">x</Say></Response>', [{ verb: 'say', text: 'x', loop: -2 }]],
      ['<Response><Pause length="0"/></Response>', [{ verb: 'pause', length: 0 }]],
      ['<Response><Reject reason="later"/></Response>', [{ verb: 'reject', reason: 'later' }]],
      ['<Response><Dial/></Response>', [{ verb: 'dial' }]],
      ['<Response><Gather finishOnKey="ab"/></Response>', [{ verb: 'gather', finishOnKey: 'ab' }]],
      ['<Response><Gather><Hangup/></Gather></Response>', [{ verb: 'gather', prompts: [{ verb: 'hangup' }] }]],
      ['<Response><Gather numDigits="0"/></Response>', [{ verb: 'gather', numDigits: 0 }]],
      ['<Response><Play/></Response>', [{ verb: 'play' }]],
    ];
    for (const [xml, json] of mistakes) {
      let xmlCode = 0;
      try {
        readTwiml(xml);
      } catch (err) {
        xmlCode = (err as VerbDocumentError).code;
      }
      assert.equal(errorCode(json), xmlCode, xml);
    }
  });
});

describe('json-verbs.schema.json', () => {
  const ajv = new Ajv2020({ strict: true, strictRequired: false });
  const validate = ajv.compile(schema);

  it('is a valid draft 2020-12 schema', () => {
    assert.equal(schema.$schema, 'https://json-schema.org/draft/2020-12/schema');
    assert.equal(ajv.validateSchema(schema), true);
  });

  it('accepts both document shapes and rejects typos', () => {
    assert.equal(validate([{ verb: 'say', text: 'hi', voice: 'alice' }, { verb: 'hangup' }]), true);
    assert.equal(validate({ verbs: [{ verb: 'redirect', url: '/x' }] }), true);
    assert.equal(validate([{ verb: 'say', txt: 'hi' }]), false);
    assert.equal(validate([{ verb: 'dance' }]), false);
    assert.equal(validate({ verb: 'hangup' }), false);
  });

  it('validates every JSON example in docs/json-verbs.md', () => {
    const md = readFileSync(new URL('../../docs/json-verbs.md', import.meta.url), 'utf8');
    const blocks = [...md.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => m[1] as string);
    assert.ok(blocks.length >= 5, 'docs have examples');
    for (const block of blocks) {
      const json = JSON.parse(block) as unknown;
      assert.equal(validate(json), true, `${block}\n${JSON.stringify(validate.errors)}`);
      assert.doesNotThrow(() => readJsonVerbs(json), block);
    }
  });
});
