import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildSpeechSearch,
  normalizePhrase,
  parsePronouncingDictionary,
  splitHints,
  type PronunciationLookup,
} from '../../src/speech/speech-grammar.js';

const DICT = [
  'billing B IH L IH NG',
  'customer K AH S T AH M ER',
  'no N OW',
  'sales S EY L Z',
  'service S ER V AH S',
  'service(2) S ER V IH S',
  "what's W AH T S",
  'yes Y EH S',
].join('\n');
const lookup: PronunciationLookup = parsePronouncingDictionary(DICT);

test('parsePronouncingDictionary: alternates are collected under the base word', () => {
  assert.deepEqual(lookup('service'), ['S ER V AH S', 'S ER V IH S']);
  assert.deepEqual(lookup('no'), ['N OW']);
  assert.equal(lookup('banana'), undefined);
});

test('normalizePhrase: case, punctuation and spacing', () => {
  assert.equal(normalizePhrase('  Customer-Service! '), 'customer service');
  assert.equal(normalizePhrase('YES.'), 'yes');
  assert.equal(normalizePhrase('What’s   up?'), "what's up");
  assert.equal(normalizePhrase("'quoted'"), 'quoted');
  assert.equal(normalizePhrase('?!'), '');
});

test('splitHints: comma-separated entries are split and trimmed', () => {
  assert.deepEqual(splitHints(['sales, support', ' billing ', '', 'a,,b']), ['sales', 'support', 'billing', 'a', 'b']);
});

test('buildSpeechSearch: a JSGF grammar of the phrases and a dictionary of only their words', () => {
  const s = buildSpeechSearch(['Sales', 'billing', 'customer service', 'SALES'], lookup);
  assert.equal(s.kind, 'grammar');
  if (s.kind !== 'grammar') return;
  assert.deepEqual(s.phrases, ['sales', 'billing', 'customer service']);
  assert.equal(s.jsgf, '#JSGF V1.0;\ngrammar hints;\npublic <hint> = sales | billing | customer service;\n');
  assert.equal(
    s.dictionary,
    'billing B IH L IH NG\ncustomer K AH S T AH M ER\nsales S EY L Z\nservice S ER V AH S\nservice(2) S ER V IH S\n',
  );
  assert.deepEqual(s.dropped, []);
});

test('buildSpeechSearch: hints with unknown words are dropped whole and reported', () => {
  const s = buildSpeechSearch(['yes', 'banana split', 'customer banana', '!!', 'no'], lookup);
  assert.equal(s.kind, 'grammar');
  if (s.kind !== 'grammar') return;
  assert.deepEqual(s.phrases, ['yes', 'no']);
  assert.deepEqual(s.dropped, [
    { hint: 'banana split', reason: 'unknown-words', unknownWords: ['banana', 'split'] },
    { hint: 'customer banana', reason: 'unknown-words', unknownWords: ['banana'] },
    { hint: '!!', reason: 'empty', unknownWords: [] },
  ]);
  assert.ok(!s.dictionary.includes('customer'), 'words of dropped phrases stay out of the dictionary');
});

test('buildSpeechSearch: no usable hint falls back to the language model', () => {
  assert.deepEqual(buildSpeechSearch([], lookup), { kind: 'language-model', dropped: [] });
  const s = buildSpeechSearch(['zyxxy', '$OOV_CLASS_DIGIT_SEQUENCE'], lookup);
  assert.equal(s.kind, 'language-model');
  assert.deepEqual(s.dropped, [
    { hint: 'zyxxy', reason: 'unknown-words', unknownWords: ['zyxxy'] },
    { hint: '$OOV_CLASS_DIGIT_SEQUENCE', reason: 'class-token', unknownWords: [] },
  ]);
});
