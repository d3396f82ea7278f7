import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingHttpHeaders } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { decodeWav } from '../../src/media/wav.js';
import { WebSocketRecognizer } from '../../src/speech/websocket-recognizer.js';
import {
  SttError,
  joinResults,
  type RecognitionEvents,
  type RecognitionOptions,
  type RecognitionResult,
  type RecognitionStream,
  type SpeechRecognizer,
} from '../../src/speech/speech-recognizer.js';
import { PocketsphinxRecognizer } from '../../src/speech/pocketsphinx-recognizer.js';
import { startRecognizerServer } from '../../examples/websocket-recognizer-server.js';
import { FakeClock } from '../helpers/fake-clock.js';

function request(over: Partial<RecognitionOptions> = {}): RecognitionOptions {
  return { language: 'en-US', hints: [], sampleRate: 8000, interimResults: true, profanityFilter: true, ...over };
}

function frame(seed: number, n = 160): Int16Array {
  const f = new Int16Array(n);
  for (let i = 0; i < n; i++) f[i] = ((seed * 7919 + i * 31) % 60000) - 30000;
  return f;
}

async function rejectsWith(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  const err = await p.then(
    () => assert.fail(`expected SttError ${code}`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof SttError, `expected SttError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  if (message) assert.match(err.message, message);
}

/** Waits for something the other end does asynchronously; fails (rather than hangs) after 5 s. */
async function until(pred: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !pred(); waited += 10) {
    if (waited >= 5_000) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function recorder() {
  const log = { partial: [] as RecognitionResult[], final: [] as RecognitionResult[], speech: [] as number[], errors: [] as SttError[] };
  const events: RecognitionEvents = {
    partial: (r) => log.partial.push(r),
    final: (r) => log.final.push(r),
    speechStarted: (ms) => log.speech.push(ms),
    error: (e) => log.errors.push(e),
  };
  return { log, events };
}

/**
 * An engine behind the example server: records what reaches it and reports a scripted utterance
 * once 1 s of audio has arrived.
 */
class ScriptedRecognizer implements SpeechRecognizer {
  readonly name = 'scripted';
  opened: RecognitionOptions[] = [];
  received: number[] = [];
  aborted = 0;
  openError: SttError | undefined;

  async open(options: RecognitionOptions, events: RecognitionEvents): Promise<RecognitionStream> {
    if (this.openError) throw this.openError;
    this.opened.push(options);
    const finals: RecognitionResult[] = [];
    let samples = 0;
    return {
      write: (s) => {
        for (const x of s) this.received.push(x);
        const before = samples;
        samples += s.length;
        if (before < 4000 && samples >= 4000) {
          events.speechStarted?.(250);
          events.partial?.({ transcript: 'sale', confidence: 0.4, startMs: 250, endMs: 500 });
        }
        if (before < 8000 && samples >= 8000) {
          const r = { transcript: 'sales', confidence: 0.87, startMs: 250, endMs: 800 };
          finals.push(r);
          events.final?.(r);
        }
      },
      finish: async () => joinResults(finals),
      abort: () => {
        this.aborted++;
      },
    };
  }
}

test('through the example server: start options, every audio sample, partial/final/speech-started, done', async () => {
  const engine = new ScriptedRecognizer();
  const server = await startRecognizerServer({ recognizer: engine, token: 's3cret' });
  try {
    const client = new WebSocketRecognizer({ url: server.url, token: 's3cret' });
    assert.equal(client.name, 'websocket');
    const { log, events } = recorder();
    const stream = await client.open(request({ hints: ['sales', 'support'], model: 'large', language: 'en-GB' }), events);
    const sent: number[] = [];
    for (let i = 0; i < 60; i++) {
      const f = frame(i);
      sent.push(...f);
      stream.write(f);
    }
    const result = await stream.finish();
    assert.deepEqual(engine.opened, [
      { language: 'en-GB', hints: ['sales', 'support'], sampleRate: 8000, model: 'large', interimResults: true, profanityFilter: true },
    ]);
    assert.equal(engine.received.length, sent.length);
    assert.deepEqual(engine.received, sent, 'audio arrives sample-exact (pcm_s16le)');
    assert.deepEqual(log.speech, [250]);
    assert.deepEqual(log.partial, [{ transcript: 'sale', confidence: 0.4, startMs: 250, endMs: 500 }]);
    assert.deepEqual(log.final, [{ transcript: 'sales', confidence: 0.87, startMs: 250, endMs: 800 }]);
    assert.deepEqual(result, { transcript: 'sales', confidence: 0.87, startMs: 250, endMs: 800 });
    assert.deepEqual(log.errors, []);
  } finally {
    await server.close();
  }
});

test('a wrong token is refused at the handshake: "unauthorized"', async () => {
  const server = await startRecognizerServer({ recognizer: new ScriptedRecognizer(), token: 's3cret' });
  try {
    await rejectsWith(new WebSocketRecognizer({ url: server.url, token: 'nope' }).open(request(), {}), 'unauthorized', /HTTP 401/);
    await rejectsWith(new WebSocketRecognizer({ url: server.url }).open(request(), {}), 'unauthorized');
  } finally {
    await server.close();
  }
});

test('an engine that refuses the start reports an error frame: events.error with its code, finish() rejects', async () => {
  const engine = new ScriptedRecognizer();
  engine.openError = new SttError('invalid-request', 'language xx-YY is not supported');
  const server = await startRecognizerServer({ recognizer: engine });
  try {
    const { log, events } = recorder();
    const stream = await new WebSocketRecognizer({ url: server.url }).open(request({ language: 'xx-YY' }), events);
    await until(() => log.errors.length > 0, 'the error event');
    assert.equal(log.errors.length, 1);
    assert.equal(log.errors[0]!.code, 'invalid-request');
    assert.match(log.errors[0]!.message, /xx-YY is not supported/);
    await rejectsWith(stream.finish(), 'invalid-request', /xx-YY is not supported/);
  } finally {
    await server.close();
  }
});

test('the client leaving mid-stream (abort) makes the example server abort the engine stream', async () => {
  const engine = new ScriptedRecognizer();
  const server = await startRecognizerServer({ recognizer: engine });
  try {
    const ac = new AbortController();
    const stream = await new WebSocketRecognizer({ url: server.url }).open(request(), {}, ac.signal);
    stream.write(frame(1));
    await until(() => engine.received.length === 160, 'the audio at the engine');
    ac.abort();
    await until(() => engine.aborted > 0, 'the engine stream aborted');
    assert.equal(engine.aborted, 1);
    await rejectsWith(stream.finish(), 'aborted');
  } finally {
    await server.close();
  }
});

/** A raw engine for client-side edge cases: the test scripts its replies frame by frame. */
async function rawEngine(onSession: (ws: WebSocket, headers: IncomingHttpHeaders) => void) {
  const http = createHttpServer();
  const wss = new WebSocketServer({ server: http });
  wss.on('connection', (ws, req) => onSession(ws, req.headers));
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  return {
    url: `ws://127.0.0.1:${(http.address() as AddressInfo).port}/stt`,
    async close() {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}

test('wire format: start frame, little-endian binary audio, stop; "done" resolves with the finals joined', async () => {
  const frames: { text?: unknown; bytes?: Buffer }[] = [];
  const engine = await rawEngine((ws, headers) => {
    assert.equal(headers['x-gateway-key'], 'k1');
    ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary) return frames.push({ bytes: data });
      const msg = JSON.parse(data.toString()) as { type: string };
      frames.push({ text: msg });
      if (msg.type === 'stop') {
        ws.send(JSON.stringify({ type: 'final', transcript: 'customer service', confidence: 0.9, startMs: 100, endMs: 900 }));
        ws.send(JSON.stringify({ type: 'some-future-message', x: 1 }));
        ws.send(JSON.stringify({ type: 'final', transcript: 'please', confidence: 0.7, startMs: 1200, endMs: 1500 }));
        ws.send(JSON.stringify({ type: 'done' }));
      }
    });
  });
  try {
    const stream = await new WebSocketRecognizer({ url: engine.url, headers: { 'X-Gateway-Key': 'k1' } }).open(
      request({ hints: ['customer service'], interimResults: false, profanityFilter: false, sampleRate: 16000 }),
      {},
    );
    stream.write(Int16Array.from([1, -2, 0x1234]));
    const result = await stream.finish();
    assert.deepEqual(frames[0], {
      text: { type: 'start', language: 'en-US', hints: ['customer service'], sampleRate: 16000, encoding: 'pcm_s16le', channels: 1, interimResults: false, profanityFilter: false },
    });
    assert.deepEqual(frames[1], { bytes: Buffer.from([0x01, 0x00, 0xfe, 0xff, 0x34, 0x12]) });
    assert.deepEqual(frames[2], { text: { type: 'stop' } });
    assert.deepEqual(result, { transcript: 'customer service please', confidence: 0.7, startMs: 100, endMs: 1500 });
  } finally {
    await engine.close();
  }
});

test('an engine that never sends "done" → "timeout"; one that closes without it or breaks the protocol → "engine-failed"', async () => {
  let mode: 'silent' | 'close' | 'garbage' = 'silent';
  let stops = 0;
  const engine = await rawEngine((ws) => {
    ws.on('message', (data: Buffer, isBinary) => {
      if (isBinary || (JSON.parse(data.toString()) as { type: string }).type !== 'stop') return;
      stops++;
      if (mode === 'close') ws.close(1000);
      if (mode === 'garbage') ws.send('{"type":"final","transcript":42}');
    });
  });
  try {
    const clock = new FakeClock();
    const client = new WebSocketRecognizer({ url: engine.url, finishTimeoutMs: 1500, clock });
    let stream = await client.open(request(), {});
    const finishing = stream.finish();
    await until(() => stops === 1, 'the stop frame');
    clock.advance(1499);
    assert.equal(clock.pending, 1, 'still waiting 1 ms before the deadline');
    clock.advance(1);
    await rejectsWith(finishing, 'timeout', /1500 ms/);
    assert.equal(clock.pending, 0);

    mode = 'close';
    stream = await client.open(request(), {});
    await rejectsWith(stream.finish(), 'engine-failed', /closed before "done"/);

    mode = 'garbage';
    stream = await client.open(request(), {});
    await rejectsWith(stream.finish(), 'engine-failed', /protocol error.*transcript/);
  } finally {
    await engine.close();
  }
});

test('engine errors mid-stream arrive as events.error, with the code the engine gave', async () => {
  const engine = await rawEngine((ws) => {
    ws.once('message', () => ws.send(JSON.stringify({ type: 'error', code: 'unavailable', message: 'GPU out of memory' })));
  });
  try {
    const { log, events } = recorder();
    const stream = await new WebSocketRecognizer({ url: engine.url }).open(request(), events);
    await until(() => log.errors.length > 0, 'the error event');
    assert.equal(log.errors.length, 1);
    assert.equal(log.errors[0]!.code, 'unavailable');
    assert.match(log.errors[0]!.message, /GPU out of memory/);
    await rejectsWith(stream.finish(), 'unavailable');
  } finally {
    await engine.close();
  }
});

test('connection refused and a handshake that never completes → "unavailable"', async () => {
  const sockets: Socket[] = [];
  const tcp = createNetServer((s) => sockets.push(s)); // accepts, never answers the upgrade
  await new Promise<void>((r) => tcp.listen(0, '127.0.0.1', r));
  const port = (tcp.address() as AddressInfo).port;
  try {
    const clock = new FakeClock();
    const opening = new WebSocketRecognizer({ url: `ws://127.0.0.1:${port}/`, connectTimeoutMs: 2500, clock }).open(request(), {});
    await until(() => sockets.length > 0, 'the TCP connection');
    clock.advance(2500);
    await rejectsWith(opening, 'unavailable', /2500 ms/);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => tcp.close(() => r()));
  }
  await rejectsWith(new WebSocketRecognizer({ url: `ws://127.0.0.1:${port}/` }).open(request(), {}), 'unavailable', /ECONNREFUSED/);
});

/** "sales" spoken on an 8 kHz phone line (the shared fixture; see test/fixtures/speech/README.md), with 0.5 s more silence either side. */
function spokenSales(): Int16Array {
  const wav = decodeWav(readFileSync(new URL('../fixtures/speech/sales-us.wav', import.meta.url)));
  assert.equal(wav.sampleRate, 8000);
  const speech = wav.samples[0]!;
  const pcm = new Int16Array(4000 + speech.length + 4000);
  for (let i = 0; i < speech.length; i++) pcm[4000 + i] = Math.max(-32768, Math.min(32767, Math.round(speech[i]! * 32768)));
  return pcm;
}

test('end to end: the example server backed by the embedded pocketsphinx recognizer hears "sales"', async () => {
  const pocketsphinx = new PocketsphinxRecognizer();
  const server = await startRecognizerServer({ recognizer: pocketsphinx });
  try {
    const { log, events } = recorder();
    const stream = await new WebSocketRecognizer({ url: server.url, finishTimeoutMs: 20_000 }).open(
      request({ hints: ['sales', 'support', 'billing', 'operator'], interimResults: false }),
      events,
    );
    const pcm = spokenSales();
    for (let i = 0; i < pcm.length; i += 160) stream.write(pcm.subarray(i, i + 160));
    const result = await stream.finish();
    assert.equal(result?.transcript, 'sales');
    const audioMs = (pcm.length / 8000) * 1000;
    assert.ok(result.startMs >= 0 && result.endMs > result.startMs && result.endMs <= audioMs, JSON.stringify(result));
    assert.deepEqual(log.errors, []);
    assert.deepEqual(log.final.map((f) => f.transcript), ['sales']);
  } finally {
    await server.close();
    await pocketsphinx.close?.();
  }
});
