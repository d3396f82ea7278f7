// MediaBridge between two REAL RtpSessions on loopback, each talking to a bare UDP "phone",
// paced by a MediaClock the test ticks by hand (so nothing depends on the machine's speed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MediaBridge, MediaBridgeError } from '../../src/media/media-bridge.js';
import { PortAllocator } from '../../src/media/port-allocator.js';
import { RtpSession } from '../../src/media/rtp-session.js';
import { decodeFrame, encodeFrame, type G711Codec } from '../../src/media/g711.js';
import type { NegotiatedAudio } from '../../src/sip/offer-answer.js';
import { correlation, events, goertzel, manualClock, rms, RtpPhone, tone } from './rtp-phone.js';

const ports = new PortAllocator(46000, 46999);

function negotiated(codec: G711Codec, port: number): NegotiatedAudio {
  return { remoteAddress: '127.0.0.1', remotePort: port, codec, payloadType: codec === 'PCMU' ? 0 : 8, telephoneEventPayloadType: 101, ptime: 20, direction: 'sendrecv' };
}

/** Leg A (session a ↔ phone A) and leg B (session b ↔ phone B), bridged. */
async function rig(codecA: G711Codec, codecB: G711Codec, maxDepthFrames?: number) {
  const { clock, tick } = manualClock();
  const a = await RtpSession.open({ bindAddress: '127.0.0.1', ports, clock });
  const b = await RtpSession.open({ bindAddress: '127.0.0.1', ports, clock });
  const phoneA = await RtpPhone.open(codecA);
  const phoneB = await RtpPhone.open(codecB);
  a.configure(negotiated(codecA, phoneA.port));
  b.configure(negotiated(codecB, phoneB.port));
  const bridge = new MediaBridge(a, b, maxDepthFrames === undefined ? {} : { maxDepthFrames });
  /** Phone A sends `pcm` to its session; resolves once the session has decoded it. */
  const fromA = async (pcm: Int16Array): Promise<void> => {
    const heard = events(a, 'audio');
    phoneA.send(a.localPort, pcm);
    await heard;
  };
  const fromB = async (pcm: Int16Array): Promise<void> => {
    const heard = events(b, 'audio');
    phoneB.send(b.localPort, pcm);
    await heard;
  };
  /** One media tick; resolves when both phones have the packet it sent them. */
  const step = async (): Promise<void> => {
    const nA = phoneA.received.length + 1;
    const nB = phoneB.received.length + 1;
    tick();
    await Promise.all([phoneA.waitFor(nA), phoneB.waitFor(nB)]);
  };
  const close = async (): Promise<void> => {
    bridge.stop();
    phoneA.close();
    phoneB.close();
    await a.close();
    await b.close();
    clock.stop();
  };
  return { a, b, phoneA, phoneB, bridge, fromA, fromB, step, close };
}

/** A frame of constant value `v`: survives G.711 as a recognisable level. */
function level(v: number, n = 160): Int16Array {
  return new Int16Array(n).fill(v);
}

/** `pcm` through one encode/decode in `codec`: what a receiver of it decodes. */
function coded(pcm: Int16Array, codec: G711Codec): Int16Array {
  const bytes = Buffer.alloc(pcm.length);
  encodeFrame(pcm, codec, bytes);
  const out = new Int16Array(pcm.length);
  decodeFrame(bytes, codec, out);
  return out;
}

test('audio from phone A reaches phone B and the other way round, frame for frame', async () => {
  const r = await rig('PCMU', 'PCMU');
  try {
    // A continuous 1 kHz tone from A and 400 Hz from B, 5 frames each, one frame per tick.
    for (let k = 0; k < 5; k++) {
      await Promise.all([r.fromA(tone(1000, 160, 8000, k * 160)), r.fromB(tone(400, 160, 8000, k * 160))]);
      await r.step();
    }
    const heardByB = Int16Array.from(r.phoneB.received.flatMap((_, i) => [...r.phoneB.pcm(i)]));
    const heardByA = Int16Array.from(r.phoneA.received.flatMap((_, i) => [...r.phoneA.pcm(i)]));
    // µ-law decode → encode is lossless, so each leg hears exactly what the other phone sent.
    assert.deepEqual(Array.from(heardByB), Array.from(coded(tone(1000, 800), 'PCMU')));
    assert.deepEqual(Array.from(heardByA), Array.from(coded(tone(400, 800), 'PCMU')));
    assert.ok(goertzel(heardByB, 1000) > 100 * goertzel(heardByB, 400));
    assert.ok(goertzel(heardByA, 400) > 100 * goertzel(heardByA, 1000));
    const s = r.bridge.stats();
    assert.deepEqual(s.aToB, { framesIn: 5, framesOut: 5, dropped: 0, underruns: 0 });
    assert.deepEqual(s.bToA, { framesIn: 5, framesOut: 5, dropped: 0, underruns: 0 });
  } finally {
    await r.close();
  }
});

test('PCMU on leg A and PCMA on leg B: each leg gets its own codec, the audio survives', async () => {
  const r = await rig('PCMU', 'PCMA');
  try {
    const speechA = tone(700, 800, 9000);
    const speechB = tone(1300, 800, 6000);
    for (let k = 0; k < 5; k++) {
      await Promise.all([r.fromA(speechA.subarray(k * 160, (k + 1) * 160)), r.fromB(speechB.subarray(k * 160, (k + 1) * 160))]);
      await r.step();
    }
    assert.ok(r.phoneB.received.every((p) => p.payloadType === 8));
    assert.ok(r.phoneA.received.every((p) => p.payloadType === 0));
    const heardByB = Int16Array.from(r.phoneB.received.flatMap((_, i) => [...r.phoneB.pcm(i)]));
    const heardByA = Int16Array.from(r.phoneA.received.flatMap((_, i) => [...r.phoneA.pcm(i)]));
    assert.ok(correlation(heardByB, speechA) > 0.99, `A→B correlation ${correlation(heardByB, speechA)}`);
    assert.ok(correlation(heardByA, speechB) > 0.99, `B→A correlation ${correlation(heardByA, speechB)}`);
    assert.ok(Math.abs(rms(heardByB) / rms(speechA) - 1) < 0.05); // no level change across the transcode
  } finally {
    await r.close();
  }
});

test('10 ms and 30 ms packets are re-chunked into 20 ms frames without losing a sample', async () => {
  const r = await rig('PCMU', 'PCMU');
  try {
    const ramp = new Int16Array(960);
    for (let i = 0; i < ramp.length; i++) ramp[i] = (i * 37) % 16000 - 8000;
    // 10 ms ptime from A: four 80-sample packets = two frames.
    for (let k = 0; k < 4; k++) await r.fromA(ramp.subarray(k * 80, (k + 1) * 80));
    await r.step();
    await r.step();
    // 30 ms ptime from A: two 240-sample packets = three frames.
    for (let k = 0; k < 2; k++) await r.fromA(ramp.subarray(320 + k * 240, 320 + (k + 1) * 240));
    await r.step();
    await r.step();
    await r.step();
    const heard = Int16Array.from(r.phoneB.received.flatMap((_, i) => [...r.phoneB.pcm(i)]));
    assert.ok(r.phoneB.received.every((p) => p.payload.length === 160));
    assert.deepEqual(Array.from(heard), Array.from(coded(ramp.subarray(0, 800), 'PCMU')));
    assert.equal(r.bridge.stats().aToB.framesIn, 5);
  } finally {
    await r.close();
  }
});

test('a burst of 20 frames: only the newest maxDepthFrames go out, the rest are dropped and counted', async () => {
  const r = await rig('PCMU', 'PCMU', 3);
  try {
    await r.step(); // one ordinary tick: both legs silent
    for (let k = 1; k <= 20; k++) await r.fromA(level(k * 500));
    for (let k = 0; k < 8; k++) await r.step();
    const levels = r.phoneB.received.slice(1).map((_, i) => r.phoneB.pcm(i + 1)[0]!);
    const relayed = levels.filter((v) => v !== 0);
    assert.ok(relayed.length <= 3 + 1, `relayed ${relayed.length} late frames`);
    // They are the newest frames, in order, and go out on the very next ticks.
    assert.deepEqual(relayed, [18, 19, 20].map((k) => coded(level(k * 500, 1), 'PCMU')[0]));
    assert.deepEqual(levels.slice(0, 3), relayed);
    const s = r.bridge.stats().aToB;
    assert.equal(s.framesIn, 20);
    assert.equal(s.dropped, 17);
    assert.equal(s.framesOut + s.dropped, 20);
    assert.equal(s.underruns, 1 + 5); // the tick before the burst, and the five after it drained
  } finally {
    await r.close();
  }
});

test("the session's own playout wins over relayed audio; relaying resumes in step afterwards", async () => {
  const r = await rig('PCMU', 'PCMU');
  try {
    const prompt = tone(500, 320, 7000); // two frames of the session's own audio (a whisper, ringback)
    const played = r.b.output.play(prompt);
    for (let k = 1; k <= 4; k++) {
      await r.fromA(level(k * 1000));
      await r.step();
    }
    assert.equal(await played, 'finished');
    const heard = [0, 1, 2, 3].map((i) => r.phoneB.pcm(i));
    assert.deepEqual([...heard[0]!, ...heard[1]!], Array.from(coded(prompt, 'PCMU')));
    // Frames 1 and 2 were superseded by the prompt, not queued behind it: tick 3 sends frame 3.
    assert.equal(heard[2]![0], coded(level(3000, 1), 'PCMU')[0]);
    assert.equal(heard[3]![0], coded(level(4000, 1), 'PCMU')[0]);
    const s = r.bridge.stats().aToB;
    assert.deepEqual(s, { framesIn: 4, framesOut: 2, dropped: 0, underruns: 0 });
  } finally {
    await r.close();
  }
});

test('onFrames pairs what both legs were sent on the same tick; unsubscribe stops it', async () => {
  const r = await rig('PCMU', 'PCMA');
  try {
    const seen: { tick: number; toA: number; toB: number }[] = [];
    const off = r.bridge.onFrames((tick, sentToA, sentToB) => seen.push({ tick, toA: sentToA[0]!, toB: sentToB[0]! }));
    for (let k = 1; k <= 3; k++) {
      await Promise.all([r.fromA(level(k * 1000)), r.fromB(level(-k * 1000))]);
      await r.step();
    }
    off();
    await r.fromA(level(9000));
    await r.step();
    assert.equal(seen.length, 3);
    assert.deepEqual(seen.map((s) => s.tick - seen[0]!.tick), [0, 1, 2]);
    // sentToB is A's audio (decoded from µ-law), sentToA is B's (decoded from A-law), tick by tick.
    assert.deepEqual(seen.map((s) => s.toB), [1, 2, 3].map((k) => coded(level(k * 1000, 1), 'PCMU')[0]));
    assert.deepEqual(seen.map((s) => s.toA), [1, 2, 3].map((k) => coded(level(-k * 1000, 1), 'PCMA')[0]));
  } finally {
    await r.close();
  }
});

test('stop() returns both sessions to silence but they keep sending (keep-alive); stop is idempotent', async () => {
  const r = await rig('PCMU', 'PCMU');
  try {
    await r.fromA(level(5000));
    await r.step();
    assert.notEqual(r.phoneB.pcm(0)[0], 0);
    r.bridge.stop();
    r.bridge.stop();
    assert.equal(r.bridge.stopped, true);
    assert.equal(r.a.liveInput, null);
    assert.equal(r.b.liveInput, null);
    await Promise.all([r.fromA(level(6000)), r.fromB(level(6000))]);
    await r.step();
    await r.step();
    assert.equal(r.phoneB.received.length, 3);
    assert.ok(r.phoneB.pcm(1).every((v) => v === 0) && r.phoneB.pcm(2).every((v) => v === 0));
    assert.ok(r.phoneA.pcm(1).every((v) => v === 0) && r.phoneA.pcm(2).every((v) => v === 0));
    assert.equal(r.bridge.stats().aToB.framesIn, 1); // nothing relayed after stop
    // A session can be bridged again once the first bridge let go of it.
    const again = new MediaBridge(r.a, r.b);
    again.stop();
  } finally {
    await r.close();
  }
});

test('a session already in a bridge, or bridged to itself, is refused with a coded error', async () => {
  const r = await rig('PCMU', 'PCMU');
  try {
    assert.throws(() => new MediaBridge(r.a, r.b), (e: unknown) => e instanceof MediaBridgeError && e.code === 'MEDIA_BRIDGE_BUSY');
    assert.throws(() => new MediaBridge(r.a, r.a), (e: unknown) => e instanceof MediaBridgeError && e.code === 'MEDIA_BRIDGE_SAME_SESSION');
  } finally {
    await r.close();
  }
});
