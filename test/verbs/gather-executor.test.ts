/**
 * <Gather> semantics against a scripted call (no SIP, no RTP) and node:test's fake timers: digits,
 * finishOnKey, numDigits, the timeout starting after the prompts, barge-in, speech end-pointing and
 * recognizer failures.
 */
import { describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { gather } from '../../src/verbs/gather-executor.js';
import { readTwiml } from '../../src/verbs/twiml-reader.js';
import type { GatherVerb } from '../../src/verbs/verb-model.js';
import type { CallControl, PlaybackOutcome } from '../../src/verbs/call-control.js';
import { runPrompt } from '../../src/verbs/prompt-executors.js';
import { TtsError } from '../../src/speech/text-to-speech.js';
import { SttError, type RecognitionEvents, type RecognitionResult, type RecognitionStream } from '../../src/speech/speech-recognizer.js';

function verbOf(xml: string): GatherVerb {
  return readTwiml(`<Response>${xml}</Response>`).verbs[0] as GatherVerb;
}

/** A call whose prompts last `promptMs` of (fake) time and whose caller input the test injects. */
class ScriptedCall {
  digitListeners = new Set<(d: string) => void>();
  keyDown = new Set<() => void>();
  audioListeners = new Set<(f: Int16Array) => void>();
  played = 0;
  aborted = 0;
  notes: Array<{ type: string; detail: Record<string, unknown> }> = [];
  callbacks: Array<{ url: string; params: Record<string, string> }> = [];
  recognizer: { open: (events: RecognitionEvents) => Promise<RecognitionStream> } = {
    open: () => Promise.reject(new SttError('unavailable', 'no recognizer in this test')),
  };

  constructor(private readonly promptMs: number) {}

  control(): CallControl {
    const self = this;
    return {
      answered: true,
      ended: false,
      answer: async () => undefined,
      reject: async () => undefined,
      hangup: async () => undefined,
      play(_s: Int16Array, signal: AbortSignal): Promise<PlaybackOutcome> {
        self.played++;
        return new Promise((resolve) => {
          const t = setTimeout(() => resolve('finished'), self.promptMs);
          signal.addEventListener('abort', () => {
            clearTimeout(t);
            self.aborted++;
            resolve('aborted');
          }, { once: true });
        });
      },
      synthesize: async () => new Int16Array(160),
      async *synthesizeStream() {
        yield new Int16Array(160);
      },
      loadMedia: async () => new Int16Array(160),
      sleep: (ms: number) => new Promise((r) => setTimeout(r, ms)),
      onDigit(listener: (d: string) => void, onKeyDown?: () => void) {
        self.digitListeners.add(listener);
        if (onKeyDown) self.keyDown.add(onKeyDown);
        return () => {
          self.digitListeners.delete(listener);
          if (onKeyDown) self.keyDown.delete(onKeyDown);
        };
      },
      onAudio(listener: (f: Int16Array) => void) {
        self.audioListeners.add(listener);
        return () => self.audioListeners.delete(listener);
      },
      sendDigits: async () => undefined,
      recognize: (_r, events) => self.recognizer.open(events),
      transcribe: async () => null,
      startRecording: () => Promise.reject(new Error('not in this test')),
      startStream: () => Promise.reject(new Error('not in this test')),
      stopStream: () => false,
      sendCallback(url: string, _m, params: Record<string, string>) {
        self.callbacks.push({ url, params });
      },
      note(type: string, detail: Record<string, unknown>) {
        self.notes.push({ type, detail });
      },
      dial: () => Promise.reject(new Error('no dialling in this test')),
      refer: () => Promise.reject(new Error('no transfers in this test')),
    };
  }

  press(keys: string): void {
    for (const k of keys) {
      for (const l of [...this.keyDown]) l();
      for (const l of [...this.digitListeners]) l(k);
    }
  }

  /** `ms` of caller audio at a level: loud = speech, 0 = silence. */
  speak(ms: number, level: number): void {
    for (let t = 0; t < ms; t += 20) {
      const frame = new Int16Array(160);
      for (let i = 0; i < 160; i++) frame[i] = level === 0 ? 0 : Math.round(level * Math.sin(i * 0.7));
      for (const l of [...this.audioListeners]) l(frame);
    }
  }
}

const ctx = (signal = new AbortController().signal) => ({ documentUrl: 'http://app.test/ivr', signal });
const flush = () => new Promise<void>((r) => setImmediate(r));

describe('<Gather> executor', () => {
  it('collects digits until finishOnKey; a key stops the prompt at once', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const call = new ScriptedCall(10_000);
      const run = gather(verbOf('<Gather action="next"><Say>Enter your PIN</Say></Gather>'), call.control(), ctx());
      await flush();
      call.press('4');
      await flush();
      assert.equal(call.aborted, 1, 'the prompt was not stopped by the key');
      call.press('2#');
      const outcome = await run;
      assert.deepEqual(outcome, { kind: 'redirect', url: 'http://app.test/next', method: 'POST', params: { Digits: '42', FinishedOnKey: '#' } });
    } finally {
      mock.timers.reset();
    }
  });

  it('numDigits ends it without a finish key', async () => {
    const call = new ScriptedCall(0);
    const run = gather(verbOf('<Gather numDigits="3"/>'), call.control(), ctx());
    await flush();
    call.press('123');
    const outcome = await run;
    assert.equal(outcome.kind, 'redirect');
    assert.deepEqual(outcome.kind === 'redirect' && outcome.params, { Digits: '123', FinishedOnKey: '' });
    // No action attribute: Twilio posts back to the current document.
    assert.equal(outcome.kind === 'redirect' && outcome.url, 'http://app.test/ivr');
  });

  it('the timeout starts after the prompts, and no input falls through to the next verb', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const call = new ScriptedCall(3000);
      let settled = false;
      const run = gather(verbOf('<Gather timeout="2"><Say>Long prompt</Say></Gather>'), call.control(), ctx()).then((o) => {
        settled = true;
        return o;
      });
      await flush();
      mock.timers.tick(3000); // the prompt ends
      await flush();
      mock.timers.tick(1999);
      await flush();
      assert.equal(settled, false, 'timed out before `timeout` seconds after the prompt');
      mock.timers.tick(1);
      assert.deepEqual(await run, { kind: 'next' });
    } finally {
      mock.timers.reset();
    }
  });

  it('the timeout also runs between digits', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const call = new ScriptedCall(0);
      const run = gather(verbOf('<Gather timeout="3" finishOnKey=""/>'), call.control(), ctx());
      await flush();
      call.press('9');
      mock.timers.tick(2900);
      call.press('8');
      mock.timers.tick(2900);
      call.press('7');
      mock.timers.tick(3000);
      const outcome = await run;
      assert.deepEqual(outcome.kind === 'redirect' && outcome.params, { Digits: '987', FinishedOnKey: '' });
    } finally {
      mock.timers.reset();
    }
  });

  it('speech: barge-in on voice, auto end-pointing, SpeechResult and Confidence to the action', async () => {
    const call = new ScriptedCall(60_000);
    let written = 0;
    const result: RecognitionResult = { transcript: 'support', confidence: 0.82, startMs: 300, endMs: 900 };
    call.recognizer.open = async () => ({ write: () => void written++, finish: async () => result, abort: () => undefined });
    const run = gather(verbOf('<Gather input="speech" speechTimeout="auto" action="/menu"><Say>Which department?</Say></Gather>'), call.control(), ctx());
    await flush();
    call.speak(300, 0);
    call.speak(600, 8000);
    assert.equal(call.aborted, 1, 'speech did not stop the prompt');
    call.speak(1000, 0);
    const outcome = await run;
    assert.deepEqual(outcome.kind === 'redirect' && outcome.params, { SpeechResult: 'support', Confidence: '0.82' });
    assert.ok(written >= 50, 'the recognizer did not receive the audio');
  });

  it('with dtmf speech, the first modality wins: keys after speech are ignored', async () => {
    const call = new ScriptedCall(0);
    call.recognizer.open = async () => ({ write: () => undefined, finish: async () => ({ transcript: 'sales', confidence: 0.7, startMs: 0, endMs: 500 }), abort: () => undefined });
    const run = gather(verbOf('<Gather input="dtmf speech" speechTimeout="auto"/>'), call.control(), ctx());
    await flush();
    call.speak(500, 8000);
    call.press('1#');
    call.speak(1000, 0);
    const outcome = await run;
    assert.deepEqual(outcome.kind === 'redirect' && outcome.params, { SpeechResult: 'sales', Confidence: '0.7' });
  });

  it('a recognizer that cannot be reached ends a speech-only gather at once, with error 82001', async () => {
    const call = new ScriptedCall(60_000);
    const outcome = await gather(verbOf('<Gather input="speech"><Say>Talk to me</Say></Gather>'), call.control(), ctx());
    assert.deepEqual(outcome, { kind: 'next' });
    const error = call.notes.find((n) => n.type === 'error');
    assert.equal(error?.detail.code, 82001);
    assert.equal(error?.detail.reason, 'unavailable');
  });

  it('partial results go to partialResultCallback with a sequence number', async () => {
    const call = new ScriptedCall(0);
    call.recognizer.open = async (events) => {
      setImmediate(() => {
        events.partial?.({ transcript: 'bil', confidence: 0.3, startMs: 0, endMs: 200 });
        events.partial?.({ transcript: 'billing', confidence: 0.6, startMs: 0, endMs: 400 });
      });
      return { write: () => undefined, finish: async () => ({ transcript: 'billing', confidence: 0.9, startMs: 0, endMs: 500 }), abort: () => undefined };
    };
    const run = gather(verbOf('<Gather input="speech" speechTimeout="auto" partialResultCallback="/partial"/>'), call.control(), ctx());
    await flush();
    await flush();
    call.speak(500, 8000);
    call.speak(1000, 0);
    await run;
    assert.deepEqual(call.callbacks.map((c) => [c.url, c.params.UnstableSpeechResult, c.params.SequenceNumber]), [
      ['http://app.test/partial', 'bil', '1'],
      ['http://app.test/partial', 'billing', '2'],
    ]);
  });

  it('hang-up during the gather rejects with the call\'s reason and releases every listener', async () => {
    const call = new ScriptedCall(60_000);
    const hangup = new AbortController();
    const run = gather(verbOf('<Gather><Say>Hello</Say></Gather>'), call.control(), ctx(hangup.signal));
    await flush();
    hangup.abort(new DOMException('call ended', 'AbortError'));
    await assert.rejects(run, { name: 'AbortError' });
    assert.equal(call.digitListeners.size, 0);
    assert.equal(call.keyDown.size, 0);
  });

  it('a speech engine that fails skips the <Say> with error 82003 instead of ending the call', async () => {
    const call = new ScriptedCall(0);
    const control = call.control();
    control.synthesizeStream = async function* () {
      yield* [];
      throw new TtsError('unauthorized', 'ElevenLabs refused the API key (401)');
    };
    await runPrompt({ verb: 'say', text: 'Hello', voice: 'ElevenLabs.abc', language: 'en-US', loop: 1 }, control, ctx());
    const error = call.notes.find((n) => n.type === 'error');
    assert.equal(error?.detail.code, 82003);
    assert.equal(error?.detail.reason, 'unauthorized');
  });
});
