import { test } from 'node:test';
import assert from 'node:assert/strict';
import { breakMs, elevenLabsParts, espeakSsml, parseSsml, plainParts, splitForLimit } from '../../src/speech/ssml-subset.js';
import { TtsError } from '../../src/speech/text-to-speech.js';

test('break lengths: time wins, strength otherwise, medium by default, clamped to 10 s', () => {
  assert.equal(breakMs({ time: '1.5s' }), 1500);
  assert.equal(breakMs({ time: '250ms' }), 250);
  assert.equal(breakMs({ time: '.5s', strength: 'x-strong' }), 500);
  assert.equal(breakMs({ strength: 'none' }), 0);
  assert.equal(breakMs({ strength: 'strong' }), 750);
  assert.equal(breakMs({}), 400);
  assert.equal(breakMs({ time: 'soon' }), 400, 'unreadable time → the default strength');
  assert.equal(breakMs({ time: '30s' }), 10_000);
});

test('parsing: entities decoded, <speak> root accepted, malformed markup is invalid-request', () => {
  assert.deepEqual(parseSsml('Tom &amp; Jerry &lt;3'), [{ kind: 'text', text: 'Tom & Jerry <3' }]);
  const [speak] = parseSsml('<speak>Hi <break time="1s"/></speak>');
  assert.ok(speak?.kind === 'element' && speak.name === 'speak' && speak.children.length === 2);
  assert.throws(() => parseSsml('Hi <break time="1s">'), (e: unknown) => e instanceof TtsError && e.code === 'invalid-request');
});

test('plain text for OpenAI: words only, sub/say-as spoken, pauses from 500 ms are silence parts', () => {
  const parts = plainParts(
    '<s>Press <say-as interpret-as="characters">abc</say-as></s><break time="200ms"/><s>or dial <say-as interpret-as="digits">4 2</say-as>.</s>' +
      '<break time="2s"/><break time="1s"/><prosody rate="slow"><sub alias="World Wide Web">WWW</sub></prosody><mark name="x"/>',
    true,
  );
  assert.deepEqual(parts, [{ text: 'Press a b c, or dial 4 2.' }, { pauseMs: 3000 }, { text: 'World Wide Web' }]);
  assert.deepEqual(plainParts('Hello. <break strength="weak"/>Bye', true), [{ text: 'Hello. Bye' }], 'no comma after a full stop');
  assert.deepEqual(plainParts('<break time="1s"/>Hi', true), [{ pauseMs: 1000 }, { text: 'Hi' }], 'leading pause kept');
  assert.deepEqual(plainParts('<p>One</p><p>Two</p>', true), [{ text: 'One\n\nTwo' }], 'paragraphs stay paragraphs');
  assert.deepEqual(plainParts('a <b>literal</b> tag', false), [{ text: 'a <b>literal</b> tag' }], 'plain text is not parsed');
});

test('ElevenLabs: inline <break> up to 3 s, silence above; phonemes when the model reads them', () => {
  const fragment = 'Hi<break time="3s"/>there<break time="3.5s"/><phoneme alphabet="ipa" ph="təˈmeɪtoʊ">tomato</phoneme>';
  assert.deepEqual(elevenLabsParts(fragment, true, { phonemes: true, breaks: true }), [
    { text: 'Hi <break time="3s" /> there' },
    { pauseMs: 3500 },
    { text: '<phoneme alphabet="ipa" ph="təˈmeɪtoʊ">tomato</phoneme>' },
  ]);
  assert.deepEqual(elevenLabsParts(fragment, true, { phonemes: false, breaks: false }), [
    { text: 'Hi' },
    { pauseMs: 3000 },
    { text: 'there' },
    { pauseMs: 3500 },
    { text: 'tomato' },
  ]);
  assert.deepEqual(
    elevenLabsParts('<phoneme alphabet="x-sampa" ph="t@meItoU">tomato</phoneme>', true, { phonemes: true, breaks: true }),
    [{ text: 'tomato' }],
    'X-SAMPA is not an ElevenLabs alphabet: the word is spoken as written',
  );
});

test('eSpeak: real SSML with the elements it knows', () => {
  assert.equal(
    espeakSsml(
      'Hello <break strength="strong"/><emphasis level="strong">there</emphasis> <prosody rate="slow" volume="loud" foo="1">slowly</prosody> ' +
        '<lang xml:lang="fr-FR">bonjour</lang> <say-as interpret-as="spell-out">ab</say-as> <sub alias="Doctor">Dr.</sub> ' +
        '<phoneme alphabet="ipa" ph="x">word</phoneme> <amazon:effect name="whispered">quiet</amazon:effect> Tom &amp; Jerry',
      true,
    ),
    '<speak>Hello <break time="750ms"/><emphasis level="strong">there</emphasis> <prosody rate="slow" volume="loud">slowly</prosody> ' +
      '<voice xml:lang="fr-fr">bonjour</voice> <say-as interpret-as="characters">ab</say-as> Doctor word quiet Tom &amp; Jerry</speak>',
  );
  assert.equal(espeakSsml('1 < 2 & "x"', false), '<speak>1 &lt; 2 &amp; &quot;x&quot;</speak>', 'plain text escaped');
  assert.equal(espeakSsml('<speak><p>A</p><s>B</s></speak>', true), '<speak><p>A</p><s>B</s></speak>', 'no nested <speak>');
});

test('splitting long text: paragraph, then sentence, then word boundaries; never over the limit', () => {
  assert.deepEqual(splitForLimit('short', 10), ['short']);
  assert.deepEqual(splitForLimit('One two. Three four five.', 12), ['One two.', 'Three four', 'five.']);
  assert.deepEqual(splitForLimit('Para one here.\n\nPara two here.', 20), ['Para one here.', 'Para two here.']);
  const long = 'word '.repeat(50).trim();
  const pieces = splitForLimit(long, 37);
  assert.ok(pieces.every((p) => p.length <= 37));
  assert.equal(pieces.join(' '), long);
  assert.deepEqual(splitForLimit('x'.repeat(25), 10), ['x'.repeat(10), 'x'.repeat(10), 'x'.repeat(5)]);
});
