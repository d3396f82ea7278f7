// Test helpers for bridge tests: a bare UDP "phone" speaking raw RTP, a hand-driven MediaClock,
// and tone analysis (Goertzel power, normalised correlation).
import { createSocket, type Socket } from 'node:dgram';
import { once, type EventEmitter } from 'node:events';
import { MediaClock } from '../../src/media/media-clock.js';
import { RtpPacket, RTP_HEADER_SIZE, writeRtpHeader } from '../../src/media/rtp-packet.js';
import { decodeFrame, encodeFrame, type G711Codec } from '../../src/media/g711.js';

/** A clock whose ticks happen only when the test calls `tick()`. */
export function manualClock(): { clock: MediaClock; tick: (n?: number) => void } {
  let now = 0;
  let pending: (() => void) | null = null;
  const clock = new MediaClock({
    now: () => now,
    schedule: (fn) => {
      pending = fn;
      return fn;
    },
    cancel: () => {
      pending = null;
    },
  });
  clock.start();
  return {
    clock,
    tick: (n = 1) => {
      for (let i = 0; i < n; i++) {
        const fn = pending;
        pending = null;
        fn?.();
        now += 20;
      }
    },
  };
}

/** Resolve when `event` has fired `count` more times; fail after a generous timeout. */
export function events(em: EventEmitter, event: string, count = 1, ms = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = 0;
    const timer = setTimeout(() => {
      em.off(event, on);
      reject(new Error(`timed out waiting for ${count} '${event}' (saw ${seen})`));
    }, ms);
    const on = (): void => {
      if (++seen < count) return;
      clearTimeout(timer);
      em.off(event, on);
      resolve();
    };
    em.on(event, on);
  });
}

/** A far-end endpoint: sends RTP from its socket, collects what it receives. */
export class RtpPhone {
  readonly received: RtpPacket[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];
  private seq = 1000;
  private ts = 5000;
  private readonly ssrc = Math.floor(Math.random() * 0xffffffff);

  private constructor(
    private readonly sock: Socket,
    readonly codec: G711Codec,
  ) {
    sock.on('message', (msg) => {
      const p = RtpPacket.parse(msg);
      if (p.payloadType > 34) return; // RTCP-muxed or telephone-event: not audio
      this.received.push(p);
      this.waiters = this.waiters.filter((w) => {
        if (this.received.length < w.n) return true;
        w.resolve();
        return false;
      });
    });
  }

  static async open(codec: G711Codec): Promise<RtpPhone> {
    const s = createSocket('udp4');
    s.bind(0, '127.0.0.1');
    await once(s, 'listening');
    return new RtpPhone(s, codec);
  }

  get port(): number {
    return this.sock.address().port;
  }

  get payloadType(): number {
    return this.codec === 'PCMU' ? 0 : 8;
  }

  /** Encode `pcm` (any length) in the phone's codec and send it as one packet to `port`. */
  send(port: number, pcm: Int16Array): void {
    const payload = Buffer.alloc(pcm.length);
    encodeFrame(pcm, this.codec, payload);
    this.sendPayload(port, payload);
  }

  sendPayload(port: number, payload: Buffer): void {
    const buf = Buffer.alloc(RTP_HEADER_SIZE + payload.length);
    writeRtpHeader(buf, false, this.payloadType, this.seq, this.ts, this.ssrc);
    payload.copy(buf, RTP_HEADER_SIZE);
    this.seq = (this.seq + 1) & 0xffff;
    this.ts = (this.ts + payload.length) >>> 0;
    this.sock.send(buf, port, '127.0.0.1');
  }

  /** Wait until `n` audio packets in total have arrived. */
  async waitFor(n: number, ms = 5000): Promise<void> {
    if (this.received.length >= n) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      new Promise<void>((resolve) => this.waiters.push({ n, resolve })),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`phone got ${this.received.length}/${n} packets`)), ms);
      }),
    ]).finally(() => clearTimeout(timer));
  }

  /** Decoded PCM of received packet `i`, in the codec its payload type names. */
  pcm(i: number): Int16Array {
    const p = this.received[i]!;
    const out = new Int16Array(p.payload.length);
    decodeFrame(p.payload, p.payloadType === 8 ? 'PCMA' : 'PCMU', out);
    return out;
  }

  close(): void {
    this.sock.close();
  }
}

/** `n` samples of a sine at `hz` (8 kHz), amplitude `amp`, starting at sample `offset` of the wave. */
export function tone(hz: number, n: number, amp = 8000, offset = 0): Int16Array {
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.round(amp * Math.sin((2 * Math.PI * hz * (i + offset)) / 8000));
  return out;
}

/** Goertzel power of `hz` in `x`, normalised so a full-length sine of amplitude A gives about A²/4. */
export function goertzel(x: ArrayLike<number>, hz: number, from = 0, to = x.length): number {
  const w = (2 * Math.PI * hz) / 8000;
  const c = 2 * Math.cos(w);
  let s1 = 0;
  let s2 = 0;
  for (let i = from; i < to; i++) {
    const s0 = x[i]! + c * s1 - s2;
    s2 = s1;
    s1 = s0;
  }
  const n = to - from;
  return (s1 * s1 + s2 * s2 - c * s1 * s2) / (n * n);
}

/** Normalised cross-correlation at lag 0 (1 = identical shape). */
export function correlation(x: ArrayLike<number>, y: ArrayLike<number>): number {
  let xy = 0;
  let xx = 0;
  let yy = 0;
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    xy += x[i]! * y[i]!;
    xx += x[i]! * x[i]!;
    yy += y[i]! * y[i]!;
  }
  return xx === 0 || yy === 0 ? 0 : xy / Math.sqrt(xx * yy);
}

/** RMS of `x[from, to)`. */
export function rms(x: ArrayLike<number>, from = 0, to = x.length): number {
  let e = 0;
  for (let i = from; i < to; i++) e += x[i]! * x[i]!;
  return to > from ? Math.sqrt(e / (to - from)) : 0;
}
