import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readTwiml } from '../../src/verbs/twiml-reader.js';
import { VerbDocumentError } from '../../src/verbs/verb-errors.js';
import { PENDING_VERBS } from '../../src/verbs/verb-model.js';

function errorCode(xml: string): number {
  try {
    readTwiml(xml);
  } catch (err) {
    assert.ok(err instanceof VerbDocumentError, `expected VerbDocumentError, got ${String(err)}`);
    return err.code;
  }
  assert.fail(`no error for ${xml}`);
}

const r = (body: string): string => `<Response>${body}</Response>`;

describe('readTwiml: documents', () => {
  it('reads every verb in document order with defaults', () => {
    const doc = readTwiml(
      `<?xml version="1.0" encoding="UTF-8"?>\n<!-- greeting -->\n<Response>\n  <Say>Hello</Say>\n  <Play>https://example.com/a.mp3</Play>\n  <Pause/>\n  <Redirect>/next</Redirect>\n  <Reject/>\n  <Hangup/>\n</Response>`,
    );
    assert.deepEqual(doc.verbs, [
      { verb: 'say', text: 'Hello', voice: 'man', language: 'en-US', loop: 1 },
      { verb: 'play', url: 'https://example.com/a.mp3', digits: null, loop: 1 },
      { verb: 'pause', length: 1 },
      { verb: 'redirect', url: '/next', method: 'POST' },
      { verb: 'reject', reason: 'rejected' },
      { verb: 'hangup' },
    ]);
    assert.deepEqual(doc.warnings, []);
  });

  it('accepts an empty <Response/> (no verbs: the call hangs up)', () => {
    assert.deepEqual(readTwiml('<Response/>'), { verbs: [], warnings: [] });
    assert.deepEqual(readTwiml('<Response>\n  <!-- nothing -->\n</Response>').verbs, []);
  });

  it('reads explicit attributes', () => {
    const doc = readTwiml(
      r('<Say voice="Polly.Joanna-Neural" language="fr-CA" loop="3">Bonjour</Say><Play loop="0">a.wav</Play><Play digits="12w#">ignored.mp3</Play><Pause length="5"/><Reject reason="busy"/><Redirect method="GET">https://x.test/n?a=1</Redirect>'),
    );
    assert.deepEqual(doc.verbs, [
      { verb: 'say', text: 'Bonjour', voice: 'Polly.Joanna-Neural', language: 'fr-CA', loop: 3 },
      { verb: 'play', url: 'a.wav', digits: null, loop: 0 },
      { verb: 'play', url: null, digits: '12w#', loop: 1 },
      { verb: 'pause', length: 5 },
      { verb: 'reject', reason: 'busy' },
      { verb: 'redirect', url: 'https://x.test/n?a=1', method: 'GET' },
    ]);
    assert.equal(doc.warnings.length, 1, 'URL ignored because digits is set');
  });

  it('keeps URLs exactly as written, relative ones included (the engine resolves them)', () => {
    const doc = readTwiml(r('<Play> ../audio/hello.mp3?x=1&amp;y=2 </Play><Redirect>next.xml</Redirect>'));
    assert.deepEqual(doc.verbs.map((v) => ('url' in v ? v.url : null)), ['../audio/hello.mp3?x=1&y=2', 'next.xml']);
  });

  it('decodes entities, character references and CDATA; collapses whitespace', () => {
    const doc = readTwiml(r('<Say>Caf&#233;  &amp;\n &#x263A; &lt;ok&gt; &quot;q&quot; <![CDATA[a<b & c]]></Say>'));
    assert.equal(doc.verbs[0]?.verb === 'say' && doc.verbs[0].text, 'Café & ☺ <ok> "q" a<b & c');
  });

  it('flattens SSML in <Say> to text and keeps canonical markup', () => {
    const doc = readTwiml(r('<Say voice="Polly.Amy">Hi<break time="1s"/>there, <emphasis level="strong">you</emphasis>. <sub alias="World Wide Web">WWW</sub><say-as interpret-as="digits">123</say-as></Say>'));
    const say = doc.verbs[0];
    assert.ok(say?.verb === 'say');
    assert.equal(say.text, 'Hi there, you. World Wide Web123');
    assert.equal(say.ssml, 'Hi<break time="1s"/>there, <emphasis level="strong">you</emphasis>. <sub alias="World Wide Web">WWW</sub><say-as interpret-as="digits">123</say-as>');
  });

  it('has no ssml field for plain text', () => {
    const say = readTwiml(r('<Say>plain</Say>')).verbs[0];
    assert.ok(say && !('ssml' in say));
  });

  it('skips an empty <Say> with warning 13520, as Twilio does', () => {
    const doc = readTwiml(r('<Say>  </Say><Hangup/>'));
    assert.deepEqual(doc.verbs, [{ verb: 'hangup' }]);
    assert.deepEqual(doc.warnings.map((w) => w.code), [13520]);
  });

  it('warns (12200) about unknown attributes and ignores them, names being case-sensitive', () => {
    const doc = readTwiml(r('<Say Voice="woman" text="x">Hi</Say>'));
    assert.deepEqual(doc.verbs, [{ verb: 'say', text: 'Hi', voice: 'man', language: 'en-US', loop: 1 }]);
    assert.deepEqual(doc.warnings.map((w) => w.code), [12200, 12200]);
  });

  it('warns about stray text between verbs', () => {
    const doc = readTwiml(r('oops<Hangup/>'));
    assert.deepEqual(doc.verbs, [{ verb: 'hangup' }]);
    assert.equal(doc.warnings[0]?.code, 12200);
  });

  it('clamps loop above 1000 with a warning', () => {
    const doc = readTwiml(r('<Say loop="5000">x</Say>'));
    assert.equal(doc.verbs[0]?.verb === 'say' && doc.verbs[0].loop, 1000);
    assert.equal(doc.warnings[0]?.code, 13510);
  });

  it('accepts lower-case methods and a BOM', () => {
    const doc = readTwiml('\uFEFF' + r('<Redirect method="get">/a</Redirect>'));
    assert.deepEqual(doc.verbs, [{ verb: 'redirect', url: '/a', method: 'GET' }]);
  });
});

describe('readTwiml: errors', () => {
  const cases: Array<[string, string, number]> = [
    ['malformed XML', '<Response><Say>hi</Response>', 12100],
    ['unescaped &', r('<Say>a & b</Say>'), 12100],
    ['empty document', '   ', 12100],
    ['not XML', 'Hello there', 12100],
    ['undefined entity', r('<Say>&nbsp;</Say>'), 12100],
    ['DOCTYPE', '<!DOCTYPE Response [<!ENTITY a "b">]><Response/>', 12100],
    ['two roots', '<Response/><Response/>', 12100],
    ['wrong root', '<html><body>error</body></html>', 12102],
    ['lower-case root', '<response/>', 12102],
    ['unknown verb', r('<Speak>hi</Speak>'), 12200],
    ['wrong-case verb', r('<say>hi</say>'), 12200],
    ['nested verb in Play', r('<Play><Say>x</Say></Play>'), 12200],
    ['non-SSML child of Say', r('<Say>hi <Play>x</Play></Say>'), 12200],
    ['Say loop', r('<Say loop="-1">x</Say>'), 13510],
    ['Say loop not a number', r('<Say loop="two">x</Say>'), 13510],
    ['Say voice', r('<Say voice="robot voice">x</Say>'), 13511],
    ['Say language', r('<Say language="english please">x</Say>'), 12200],
    ['Play loop', r('<Play loop="1.5">a.mp3</Play>'), 13410],
    ['Play without URL', r('<Play/>'), 11100],
    ['Play bad scheme', r('<Play>ftp://x/a.mp3</Play>'), 11100],
    ['Play bad digits', r('<Play digits="12x"/>'), 12200],
    ['Pause length', r('<Pause length="0"/>'), 13910],
    ['Pause length text', r('<Pause length="long"/>'), 13910],
    ['Pause too long', r('<Pause length="99999"/>'), 13910],
    ['Reject reason', r('<Reject reason="nope"/>'), 13810],
    ['Redirect method', r('<Redirect method="PUT">/x</Redirect>'), 13710],
    ['Redirect without URL', r('<Redirect/>'), 11100],
    ['Redirect URL with spaces', r('<Redirect>/a b</Redirect>'), 11100],
  ];
  for (const [name, xml, code] of cases) {
    it(`${name} -> ${code}`, () => assert.equal(errorCode(xml), code));
  }

  it('rejects every planned verb as known-but-not-supported-yet (12200)', () => {
    for (const tag of Object.keys(PENDING_VERBS)) {
      assert.throws(() => readTwiml(r(`<${tag}/>`)), (err: unknown) => err instanceof VerbDocumentError && err.code === 12200 && err.message === `<${tag}> is not supported yet`);
    }
  });

  it('hints at the right case for a wrongly-cased verb', () => {
    assert.throws(() => readTwiml(r('<hangup/>')), /did you mean <Hangup>/);
  });
});
