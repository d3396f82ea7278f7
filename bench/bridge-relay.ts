/**
 * The relay side of the bridged-calls benchmark (bench/bridged-calls.ts forks it): one MediaClock,
 * and per call two RtpSessions joined by a MediaBridge, exactly as a bridged call uses them, with
 * nothing else in the process. Driven over the fork IPC channel:
 *   setup {calls: [{phoneA, phoneB, codecB}]} → ready {ports: [[aPort, bPort], ...]}
 *   sample → sample {cpu µs, bridge counters summed, clock counters, loop delay p99}
 *   teardown → torn-down;  exit → the process ends.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { MediaBridge } from '../src/media/media-bridge.js';
import { MediaClock } from '../src/media/media-clock.js';
import { PortAllocator } from '../src/media/port-allocator.js';
import { RtpSession } from '../src/media/rtp-session.js';
import type { G711Codec } from '../src/media/g711.js';
import type { NegotiatedAudio } from '../src/sip/offer-answer.js';

export interface RelayCall {
  phoneA: number;
  phoneB: number;
  codecB: G711Codec;
}

export interface RelaySample {
  cpuMicros: number;
  framesIn: number;
  framesOut: number;
  dropped: number;
  underruns: number;
  packetsSent: number;
  lateTicks: number;
  skippedTicks: number;
  maxTickLatenessMs: number;
  loopDelayP99Ms: number;
  /**
   * Send-side cadence as [bin, count, bin, count...] in 0.01 ms bins: per tick, how far the start and the end of the relay's
   * tick work moved from the 20 ms grid since the previous tick (the larger of the two). Every
   * relayed packet leaves between those two instants, so this is the cadence the relay itself
   * keeps, free of the phones' receive-side scheduling.
   */
  sendJitterBins: number[];
  /** Same encoding: how long each tick's work (every session's send) took. */
  tickWorkBins: number[];
  /** Same encoding: how late each tick started. */
  tickLateBins: number[];
}

export type ToRelay = { type: 'setup'; calls: RelayCall[] } | { type: 'sample' } | { type: 'teardown' } | { type: 'exit' };
export type FromRelay =
  | { type: 'ready'; ports: [number, number][] }
  | { type: 'sample'; sample: RelaySample }
  | { type: 'torn-down' }
  | { type: 'error'; message: string };

interface Bridged {
  a: RtpSession;
  b: RtpSession;
  bridge: MediaBridge;
}

function negotiated(codec: G711Codec, port: number): NegotiatedAudio {
  return { remoteAddress: '127.0.0.1', remotePort: port, codec, payloadType: codec === 'PCMU' ? 0 : 8, telephoneEventPayloadType: null, ptime: 20, direction: 'sendrecv' };
}

function main(): void {
  const send = (m: FromRelay): void => {
    process.send!(m);
  };
  // The server's settings: a precise last stretch before each tick.
  const clock = new MediaClock({ precisionMarginMs: 2 });
  clock.start();
  const ports = new PortAllocator(20000, 29998);
  const loop = monitorEventLoopDelay({ resolution: 1 });
  loop.enable();
  let calls: Bridged[] = [];
  // The first and the last subscriber of every tick bracket the work in which all sessions send.
  const jitter = new Map<number, number>();
  const work = new Map<number, number>();
  const late = new Map<number, number>();
  const bump = (h: Map<number, number>, ms: number): void => {
    const bin = Math.min(10000, Math.max(0, Math.round(ms * 100)));
    h.set(bin, (h.get(bin) ?? 0) + 1);
  };
  let tickStart = 0;
  let startLate = 0;
  let prevStart = -1;
  let prevEnd = -1;
  clock.subscribe(() => {
    tickStart = performance.now();
    startLate = clock.lastLatenessMs;
  });
  const last = (): void => {
    const endLate = startLate + (performance.now() - tickStart);
    if (prevStart >= 0) bump(jitter, Math.max(Math.abs(startLate - prevStart), Math.abs(endLate - prevEnd)));
    bump(work, endLate - startLate);
    bump(late, startLate);
    prevStart = startLate;
    prevEnd = endLate;
  };
  let unsubLast = clock.subscribe(last);

  const setup = async (list: RelayCall[]): Promise<void> => {
    for (const c of list) {
      const a = await RtpSession.open({ bindAddress: '127.0.0.1', ports, clock });
      const b = await RtpSession.open({ bindAddress: '127.0.0.1', ports, clock });
      a.on('socket-error', (err) => send({ type: 'error', message: err.message }));
      b.on('socket-error', (err) => send({ type: 'error', message: err.message }));
      a.configure(negotiated('PCMU', c.phoneA));
      b.configure(negotiated(c.codecB, c.phoneB));
      calls.push({ a, b, bridge: new MediaBridge(a, b) });
    }
    // Sessions subscribed after `last`: subscribe it again so it runs after them.
    unsubLast();
    unsubLast = clock.subscribe(last);
    send({ type: 'ready', ports: calls.map((c) => [c.a.localPort, c.b.localPort]) });
  };

  const sample = (): RelaySample => {
    const s: RelaySample = { cpuMicros: 0, framesIn: 0, framesOut: 0, dropped: 0, underruns: 0, packetsSent: 0, lateTicks: clock.stats.lateTicks, skippedTicks: clock.stats.skipped, maxTickLatenessMs: clock.stats.maxLatenessMs, loopDelayP99Ms: loop.percentile(99) / 1e6, sendJitterBins: [...jitter].flat(), tickWorkBins: [...work].flat(), tickLateBins: [...late].flat() };
    for (const h of [jitter, work, late]) h.clear();
    const cpu = process.cpuUsage();
    s.cpuMicros = cpu.user + cpu.system;
    for (const c of calls) {
      const st = c.bridge.stats();
      for (const d of [st.aToB, st.bToA]) {
        s.framesIn += d.framesIn;
        s.framesOut += d.framesOut;
        s.dropped += d.dropped;
        s.underruns += d.underruns;
      }
      s.packetsSent += c.a.stats().packetsSent + c.b.stats().packetsSent;
    }
    loop.reset();
    clock.stats.maxLatenessMs = 0;
    return s;
  };

  const teardown = async (): Promise<void> => {
    const old = calls;
    calls = [];
    for (const c of old) c.bridge.stop();
    await Promise.all(old.flatMap((c) => [c.a.close(), c.b.close()]));
    send({ type: 'torn-down' });
  };

  process.on('message', (m: ToRelay) => {
    const fail = (err: unknown): void => send({ type: 'error', message: (err as Error).stack ?? String(err) });
    if (m.type === 'setup') setup(m.calls).catch(fail);
    else if (m.type === 'sample') send({ type: 'sample', sample: sample() });
    else if (m.type === 'teardown') teardown().catch(fail);
    else if (m.type === 'exit') {
      clock.stop();
      process.exit(0);
    }
  });
}

if (process.send) main();
