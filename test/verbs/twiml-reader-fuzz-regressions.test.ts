// TwiML inputs the fuzzer (test/fuzz) found problems with; each test is one finding, kept minimal.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readTwiml } from '../../src/verbs/twiml-reader.js';
import { VerbDocumentError } from '../../src/verbs/verb-errors.js';

// Fuzz: twiml seed=1 iteration 134 (and an unclosed `<?xml ...` declaration, iteration 4306, the
// same escape). XMLValidator accepted these, then fast-xml-parser threw a plain Error, which
// escaped the reader instead of the coded 12100 parse failure.
test('documents the validator lets through but the parser rejects are a 12100 VerbDocumentError', () => {
  for (const xml of ['<Response/', '<Response/ ', '<?xml version="1.0"?><Response/']) {
    assert.throws(
      () => readTwiml(xml),
      (err: unknown) => err instanceof VerbDocumentError && err.code === 12100 && /invalid XML/.test(err.message),
      JSON.stringify(xml),
    );
  }
});

test('a well-formed empty <Response/> still reads as an empty document', () => {
  assert.deepEqual(readTwiml('<Response/>').verbs, []);
});
