/** <Gather> and <Record> read from TwiML and JSON: Twilio's defaults, nesting rules and error codes. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readTwiml } from '../../src/verbs/twiml-reader.js';
import { readJsonVerbs } from '../../src/verbs/json-reader.js';
import { VerbDocumentError } from '../../src/verbs/verb-errors.js';

function code(fn: () => unknown): number {
  try {
    fn();
  } catch (err) {
    return (err as VerbDocumentError).code;
  }
  return 0;
}

describe('<Gather> reading', () => {
  it('has Twilio\'s defaults (language left to the account, whose own default is en-US)', () => {
    const [g] = readTwiml('<Response><Gather/></Response>').verbs;
    assert.deepEqual(g, {
      verb: 'gather', action: null, method: 'POST', input: ['dtmf'], timeout: 5, speechTimeout: null, finishOnKey: '#',
      numDigits: null, actionOnEmptyResult: false, partialResultCallback: null, partialResultCallbackMethod: 'POST',
      language: null, hints: [], speechModel: 'default', profanityFilter: true, bargeIn: true, maxSpeechTime: 60, prompts: [],
    });
  });

  it('reads nested prompts in order and the same verb from JSON', () => {
    const xml = readTwiml('<Response><Gather input="speech dtmf" hints="sales, customer service" speechTimeout="auto" numDigits="4" finishOnKey="*"><Say>Hi</Say><Pause length="2"/><Play>tone.wav</Play></Gather></Response>');
    const json = readJsonVerbs([{ verb: 'gather', input: ['speech', 'dtmf'], hints: ['sales', 'customer service'], speechTimeout: 'auto', numDigits: 4, finishOnKey: '*', prompts: [{ verb: 'say', text: 'Hi' }, { verb: 'pause', length: 2 }, { verb: 'play', url: 'tone.wav' }] }]);
    assert.deepEqual(xml.verbs, json.verbs);
    const g = xml.verbs[0]!;
    assert.equal(g.verb === 'gather' && g.prompts.map((p) => p.verb).join(','), 'say,pause,play');
    assert.deepEqual(g.verb === 'gather' && g.hints, ['sales', 'customer service']);
  });

  it('refuses what Twilio refuses, with its codes', () => {
    assert.equal(code(() => readTwiml('<Response><Gather><Gather/></Gather></Response>')), 13320);
    assert.equal(code(() => readTwiml('<Response><Gather><Record/></Gather></Response>')), 13320);
    assert.equal(code(() => readTwiml('<Response><Gather finishOnKey="##"/></Response>')), 13310);
    assert.equal(code(() => readTwiml('<Response><Gather method="PUT"/></Response>')), 13312);
    assert.equal(code(() => readTwiml('<Response><Gather timeout="soon"/></Response>')), 13313);
    assert.equal(code(() => readTwiml('<Response><Gather numDigits="0"/></Response>')), 13314);
    assert.equal(code(() => readTwiml('<Response><Gather speechTimeout="later"/></Response>')), 13327);
    assert.equal(code(() => readTwiml('<Response><Gather input="keys"/></Response>')), 12200);
    assert.equal(code(() => readJsonVerbs([{ verb: 'gather', prompts: [{ verb: 'hangup' }] }])), 13320);
  });

  it('keeps an explicit language', () => {
    const [g] = readTwiml('<Response><Gather input="speech" language="en-GB"/></Response>').verbs;
    assert.equal(g?.verb === 'gather' && g.language, 'en-GB');
  });

  it('finishOnKey="" disables the finish key', () => {
    const [g] = readTwiml('<Response><Gather finishOnKey=""/></Response>').verbs;
    assert.equal(g?.verb === 'gather' && g.finishOnKey, '');
  });
});

describe('<Record> reading', () => {
  it('has Twilio\'s defaults, and 120 s maxLength when transcribing', () => {
    const [r] = readTwiml('<Response><Record/></Response>').verbs;
    assert.deepEqual(r, {
      verb: 'record', action: null, method: 'POST', timeout: 5, finishOnKey: '1234567890*#', maxLength: 3600, playBeep: true,
      trim: 'trim-silence', recordingStatusCallback: null, recordingStatusCallbackMethod: 'POST', recordingStatusCallbackEvent: ['completed'],
      transcribe: false, transcribeCallback: null,
    });
    const [t] = readTwiml('<Response><Record transcribe="true"/></Response>').verbs;
    assert.equal(t?.verb === 'record' && t.maxLength, 120);
  });

  it('reads the same verb from TwiML and JSON', () => {
    const xml = readTwiml('<Response><Record action="/done" timeout="0" finishOnKey="#*" maxLength="30" playBeep="false" trim="do-not-trim" recordingStatusCallback="/rs" recordingStatusCallbackEvent="in-progress completed absent"/></Response>');
    const json = readJsonVerbs([{ verb: 'record', action: '/done', timeout: 0, finishOnKey: '#*', maxLength: 30, playBeep: false, trim: 'do-not-trim', recordingStatusCallback: '/rs', recordingStatusCallbackEvent: ['in-progress', 'completed', 'absent'] }]);
    assert.deepEqual(xml.verbs, json.verbs);
  });

  it('refuses bad values with the 136xx codes', () => {
    assert.equal(code(() => readTwiml('<Response><Record method="PUT"/></Response>')), 13610);
    assert.equal(code(() => readTwiml('<Response><Record timeout="-1"/></Response>')), 13611);
    assert.equal(code(() => readTwiml('<Response><Record maxLength="0"/></Response>')), 13612);
    assert.equal(code(() => readTwiml('<Response><Record finishOnKey="x"/></Response>')), 13613);
    assert.equal(code(() => readTwiml('<Response><Record playBeep="loud"/></Response>')), 13616);
    assert.equal(code(() => readTwiml('<Response><Record trim="some"/></Response>')), 13617);
  });
});
