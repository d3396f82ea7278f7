/**
 * Bridged-calls benchmark (not a test): the most concurrent bridged calls for which the relayed RTP
 * keeps its 20 ms cadence within ±2 ms at p99, and the latency the relay adds.
 *
 * The relay (bench/bridge-relay.ts: one MediaClock, per call two RtpSessions and a MediaBridge) runs
 * in a child process. This process holds the phones: per call a plain UDP socket on each leg, PCMU
 * on leg A, PCMA on leg B for every other call (so half of the calls transcode) and PCMU otherwise.
 * Phones send 20 ms packets on their own cadence (10 clocks started 2 ms apart, so calls meet the
 * relay's tick at different phases), silent except one loud "click" frame per second per phone.
 * The far phone spots the click by its energy (which survives transcoding): latency = its arrival
 * − the click's send time. Cadence: every relayed packet's inter-arrival time − 20 ms, between
 * consecutive sequence numbers. Arrival times are taken when this process's JavaScript handles the
 * datagram (no kernel timestamps in Node), so a busy phone thread inflates both; the "phones loop
 * p99" column says how much of that there was.
 * --nice N (root only, e.g. -10) gives both processes that scheduling priority, so that unrelated
 * work on a shared machine does not preempt them: the conditions of a host dedicated to Patchbay.
 * --rt P (root only) puts every thread of both processes in SCHED_FIFO at priority P (`chrt -a -f`),
 * closer still to a dedicated host; the kernel's RT throttling keeps 5 % of each second for others.
 * Usage: node --import tsx bench/bridged-calls.ts [--steps 50,100,150,200,300,400,600,800] [--seconds 10] [--limit-ms 2]
 *        [--nice -10] [--rt 10] [--all]
 */
import { execFileSync, fork, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, setPriority } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { MediaClock } from '../src/media/media-clock.js';
import { ALAW_DECODE_TABLE, MULAW_DECODE_TABLE, encodeFrame, silenceByte, type G711Codec } from '../src/media/g711.js';
import { RTP_HEADER_SIZE, writeRtpHeader } from '../src/media/rtp-packet.js';
import type { FromRelay, RelayCall, RelaySample, ToRelay } from './bridge-relay.js';

const args = process.argv.slice(2);
const arg = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : dflt;
};
const STEPS = arg('--steps', '50,100,150,200,300,400,600,800').split(',').map(Number);
const WINDOW_S = Number(arg('--seconds', '10'));
const LIMIT_MS = Number(arg('--limit-ms', '2'));
/** Measure every step instead of stopping at the first over the limit (to see how the relay scales). */
const ALL = args.includes('--all');
const NICE = args.includes('--nice') ? Number(arg('--nice', '0')) : null;
const RT = args.includes('--rt') ? Number(arg('--rt', '10')) : null;
const WARMUP_S = 1;
const PHONE_CLOCKS = 10;
const FRAME = 160;
const CLICK_THRESHOLD = 4000; // mean |sample| of a frame; silence decodes to 0, the click to ~16000

/** Histogram of milliseconds in 0.01 ms bins (up to 100 ms; beyond lands in the last bin). */
class Histogram {
  private readonly bins = new Float64Array(10001);
  count = 0;
  max = 0;
  add(ms: number): void {
    this.bins[Math.min(this.bins.length - 1, Math.max(0, Math.round(ms * 100)))]! += 1;
    this.count++;
    if (ms > this.max) this.max = ms;
  }
  addBins(pairs: number[]): void {
    for (let i = 0; i < pairs.length; i += 2) {
      this.bins[pairs[i]!]! += pairs[i + 1]!;
      this.count += pairs[i + 1]!;
      this.max = Math.max(this.max, pairs[i]! / 100);
    }
  }
  percentile(p: number): number {
    const target = p * this.count;
    let acc = 0;
    for (let i = 0; i < this.bins.length; i++) {
      acc += this.bins[i]!;
      if (acc > target) return i / 100;
    }
    return this.max;
  }
}

/** One leg's far end: sends our frames to the relay, measures what the relay sends back. */
interface Phone {
  sock: Socket;
  codec: G711Codec;
  packet: Buffer;
  silence: Buffer;
  click: Buffer;
  relayPort: number;
  seq: number;
  ts: number;
  ssrc: number;
  /** Frame index (mod 50) at which this phone clicks. */
  clickSlot: number;
  sent: number;
  lastClickAt: number;
  peer: Phone | null;
  lastSeq: number;
  lastArrival: number;
}

interface Measure {
  open: boolean;
  cadence: Histogram;
  latency: Histogram;
  packets: number;
  lost: number;
  clicksSent: number;
  clicksHeard: number;
}

function clickPayload(codec: G711Codec): Buffer {
  // A loud 2 kHz square-ish wave: every sample far from zero, so energy survives any G.711 path.
  const pcm = Int16Array.from({ length: FRAME }, (_, i) => ((i >> 1) & 1 ? -16000 : 16000));
  const out = Buffer.alloc(FRAME);
  encodeFrame(pcm, codec, out);
  return out;
}

async function openPhone(codec: G711Codec, slot: number, m: Measure): Promise<Phone> {
  const sock = createSocket('udp4');
  sock.bind(0, '127.0.0.1');
  await once(sock, 'listening');
  const p: Phone = {
    sock, codec, packet: Buffer.alloc(RTP_HEADER_SIZE + FRAME), silence: Buffer.alloc(FRAME, silenceByte(codec)), click: clickPayload(codec),
    relayPort: 0, seq: Math.floor(Math.random() * 65536), ts: 0, ssrc: Math.floor(Math.random() * 0xffffffff), clickSlot: slot % 50,
    sent: 0, lastClickAt: -1, peer: null, lastSeq: -1, lastArrival: 0,
  };
  sock.on('message', (msg) => onRelayed(p, msg, m));
  return p;
}

function sendFrame(p: Phone, m: Measure): void {
  const click = p.sent % 50 === p.clickSlot;
  writeRtpHeader(p.packet, false, p.codec === 'PCMU' ? 0 : 8, p.seq, p.ts, p.ssrc);
  (click ? p.click : p.silence).copy(p.packet, RTP_HEADER_SIZE);
  p.seq = (p.seq + 1) & 0xffff;
  p.ts = (p.ts + FRAME) >>> 0;
  p.sent++;
  if (click) {
    p.lastClickAt = performance.now();
    if (m.open) m.clicksSent++;
  }
  p.sock.send(p.packet, p.relayPort, '127.0.0.1');
}

function onRelayed(p: Phone, msg: Buffer, m: Measure): void {
  const at = performance.now();
  if (msg.length !== RTP_HEADER_SIZE + FRAME) return; // RTCP arrives on the other port; nothing else is expected
  const seq = msg.readUInt16BE(2);
  if (m.open) {
    m.packets++;
    if (p.lastSeq >= 0) {
      const gap = (seq - p.lastSeq) & 0xffff;
      if (gap === 1) m.cadence.add(Math.abs(at - p.lastArrival - 20));
      else if (gap < 0x8000) m.lost += gap - 1;
    }
  }
  p.lastSeq = seq;
  p.lastArrival = at;
  // Energy on every 4th sample is plenty to tell a full-scale frame from silence.
  const table = msg[1]! & 0x7f ? ALAW_DECODE_TABLE : MULAW_DECODE_TABLE;
  let e = 0;
  for (let i = RTP_HEADER_SIZE; i < msg.length; i += 4) e += Math.abs(table[msg[i]!]!);
  if (e / (FRAME / 4) < CLICK_THRESHOLD) return;
  const peer = p.peer!;
  if (peer.lastClickAt < 0) return;
  if (m.open) {
    m.latency.add(at - peer.lastClickAt);
    m.clicksHeard++;
  }
  peer.lastClickAt = -1;
}

function request<T extends FromRelay['type']>(child: ChildProcess, msg: ToRelay, reply: T): Promise<Extract<FromRelay, { type: T }>> {
  return new Promise((resolve, reject) => {
    const on = (m: FromRelay): void => {
      if (m.type === 'error') {
        child.off('message', on);
        reject(new Error(`relay: ${m.message}`));
      } else if (m.type === reply) {
        child.off('message', on);
        resolve(m as Extract<FromRelay, { type: T }>);
      }
    };
    child.on('message', on);
    child.send(msg);
  });
}

/** Aggregate CPU jiffies from /proc/stat's first line. */
function procStat(): { total: number; idle: number; steal: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1).map(Number);
  return { total: f.slice(0, 8).reduce((a, b) => a + b, 0), idle: f[3]! + f[4]!, steal: f[7]! };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Row {
  calls: number;
  packets: number;
  cadenceP50: number;
  cadenceP99: number;
  cadenceMax: number;
  sendP50: number;
  sendP99: number;
  sendMax: number;
  tickWorkP50: number;
  tickWorkP99: number;
  tickLateP99: number;
  latencyP50: number;
  latencyP99: number;
  latencyMax: number;
  clicks: string;
  lost: number;
  bridgeDropped: number;
  underruns: number;
  relayCpu: number;
  relayLoopP99: number;
  phonesLoopP99: number;
  phonesLoopMax: number;
  /** Whole machine over the window, from /proc/stat: busy % of all CPUs, and steal % (the VM's host took the CPU). */
  machineBusy: number;
  steal: number;
  lateTicks: number;
  skippedTicks: number;
}

async function step(child: ChildProcess, n: number): Promise<Row> {
  const m: Measure = { open: false, cadence: new Histogram(), latency: new Histogram(), packets: 0, lost: 0, clicksSent: 0, clicksHeard: 0 };
  const pairs: [Phone, Phone][] = [];
  for (let i = 0; i < n; i++) {
    const a = await openPhone('PCMU', i, m);
    const b = await openPhone(i % 2 ? 'PCMA' : 'PCMU', i + 25, m);
    a.peer = b;
    b.peer = a;
    pairs.push([a, b]);
  }
  const calls: RelayCall[] = pairs.map(([a, b]) => ({ phoneA: a.sock.address().port, phoneB: b.sock.address().port, codecB: b.codec }));
  const { ports } = await request(child, { type: 'setup', calls }, 'ready');
  pairs.forEach(([a, b], i) => {
    a.relayPort = ports[i]![0];
    b.relayPort = ports[i]![1];
  });
  // Phone clocks, 2 ms apart; each drives its share of the calls.
  const clocks: MediaClock[] = [];
  for (let k = 0; k < PHONE_CLOCKS; k++) {
    const mine = pairs.filter((_, i) => i % PHONE_CLOCKS === k);
    const clock = new MediaClock({ precisionMarginMs: 0 });
    clock.subscribe(() => {
      for (const [a, b] of mine) {
        sendFrame(a, m);
        sendFrame(b, m);
      }
    });
    clock.start();
    clocks.push(clock);
    await sleep(2);
  }
  await sleep(WARMUP_S * 1000);
  const loop = monitorEventLoopDelay({ resolution: 1 });
  const before: RelaySample = (await request(child, { type: 'sample' }, 'sample')).sample;
  const t0 = performance.now();
  const stat0 = procStat();
  loop.enable();
  m.open = true;
  await sleep(WINDOW_S * 1000);
  m.open = false;
  loop.disable();
  const after: RelaySample = (await request(child, { type: 'sample' }, 'sample')).sample;
  const elapsed = performance.now() - t0;
  const stat1 = procStat();
  const statTotal = stat1.total - stat0.total;
  const send = new Histogram();
  send.addBins(after.sendJitterBins);
  const work = new Histogram();
  work.addBins(after.tickWorkBins);
  const late = new Histogram();
  late.addBins(after.tickLateBins);
  for (const c of clocks) c.stop();
  await request(child, { type: 'teardown' }, 'torn-down');
  for (const [a, b] of pairs) {
    a.sock.close();
    b.sock.close();
  }
  return {
    calls: n,
    packets: m.packets,
    cadenceP50: m.cadence.percentile(0.5),
    cadenceP99: m.cadence.percentile(0.99),
    cadenceMax: m.cadence.max,
    sendP50: send.percentile(0.5),
    sendP99: send.percentile(0.99),
    sendMax: send.max,
    tickWorkP50: work.percentile(0.5),
    tickWorkP99: work.percentile(0.99),
    tickLateP99: late.percentile(0.99),
    latencyP50: m.latency.percentile(0.5),
    latencyP99: m.latency.percentile(0.99),
    latencyMax: m.latency.max,
    clicks: `${m.clicksHeard}/${m.clicksSent}`,
    lost: m.lost,
    bridgeDropped: after.dropped - before.dropped,
    underruns: after.underruns - before.underruns,
    relayCpu: ((after.cpuMicros - before.cpuMicros) / 1000 / elapsed) * 100,
    relayLoopP99: after.loopDelayP99Ms,
    phonesLoopP99: loop.percentile(99) / 1e6,
    phonesLoopMax: loop.max / 1e6,
    machineBusy: (100 * (statTotal - (stat1.idle - stat0.idle))) / statTotal,
    steal: (100 * (stat1.steal - stat0.steal)) / statTotal,
    lateTicks: after.lateTicks - before.lateTicks,
    skippedTicks: after.skippedTicks - before.skippedTicks,
  };
}

function printTable(rows: Row[]): void {
  const f = (x: number): string => x.toFixed(2);
  console.log('\n| calls | relayed packets | cadence dev at phones p50 | p99 | max | relay send-side dev p50 | p99 | max | latency p50 | p99 | max | clicks heard | lost | bridge drops | underruns | relay CPU | tick work p50 | p99 | tick start late p99 | relay loop p99 | phones loop p99 | max | machine busy | steal | late ticks | skipped ticks |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    console.log(`| ${r.calls} | ${r.packets} | ${f(r.cadenceP50)} | ${f(r.cadenceP99)} | ${f(r.cadenceMax)} | ${f(r.sendP50)} | ${f(r.sendP99)} | ${f(r.sendMax)} | ${f(r.latencyP50)} | ${f(r.latencyP99)} | ${f(r.latencyMax)} | ${r.clicks} | ${r.lost} | ${r.bridgeDropped} | ${r.underruns} | ${r.relayCpu.toFixed(0)} % | ${f(r.tickWorkP50)} | ${f(r.tickWorkP99)} | ${f(r.tickLateP99)} | ${f(r.relayLoopP99)} | ${f(r.phonesLoopP99)} | ${f(r.phonesLoopMax)} | ${r.machineBusy.toFixed(0)} % | ${r.steal.toFixed(1)} % | ${r.lateTicks} | ${r.skippedTicks} |`);
  }
}

async function main(): Promise<void> {
  const relayPath = fileURLToPath(new URL('./bridge-relay.ts', import.meta.url));
  const child = fork(relayPath, [], { execArgv: ['--import', 'tsx', ...(process.env.BENCH_RELAY_PROF ? ['--cpu-prof', '--cpu-prof-dir=' + process.env.BENCH_RELAY_PROF] : [])], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  if (NICE !== null) {
    setPriority(process.pid, NICE);
    setPriority(child.pid!, NICE);
  }
  if (RT !== null) {
    for (const pid of [process.pid, child.pid!]) execFileSync('chrt', ['-a', '-f', '-p', String(RT), String(pid)]);
  }
  const started = Date.now();
  const rows: Row[] = [];
  try {
    for (const n of STEPS) {
      if (Date.now() - started > 110_000) {
        console.log(`stopping before ${n} calls: the run has used its ~2 minute budget`);
        break;
      }
      const row = await step(child, n);
      rows.push(row);
      console.log(`${n} calls: cadence p99 ${row.cadenceP99.toFixed(2)} ms at the phones, ${row.sendP99.toFixed(2)} ms send-side, latency p50/p99 ${row.latencyP50.toFixed(1)}/${row.latencyP99.toFixed(1)} ms, relay CPU ${row.relayCpu.toFixed(0)} %`);
      if (row.cadenceP99 > LIMIT_MS && !ALL) {
        console.log(`stopping: cadence p99 ${row.cadenceP99.toFixed(2)} ms is over ±${LIMIT_MS} ms`);
        break;
      }
    }
  } finally {
    child.send({ type: 'exit' } satisfies ToRelay);
  }
  printTable(rows);
  const passed = rows.filter((r) => r.cadenceP99 <= LIMIT_MS).map((r) => r.calls);
  console.log(`\nlargest step within ±${LIMIT_MS} ms at p99: ${passed.length ? Math.max(...passed) : 'none'} calls (${cpus().length} CPUs: ${cpus()[0]?.model ?? '?'})`);
  const dir = fileURLToPath(new URL('./results', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `bridged-calls-${Date.now()}.json`), JSON.stringify({ steps: STEPS, windowSeconds: WINDOW_S, nice: NICE, rt: RT, all: ALL, loadavg: readFileSync('/proc/loadavg', 'utf8').trim(), rows }, null, 2));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
