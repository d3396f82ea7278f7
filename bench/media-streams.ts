/**
 * Media Streams latency benchmark (not a test): the delay Patchbay adds on a bidirectional
 * `<Connect><Stream>` (Twilio's JSON protocol), at 1, 100 and 500 concurrent calls.
 *  1. caller's RTP packet sent → the matching `media` frame received by the app;
 *  2. app's 20 ms `media` frame sent → the matching RTP packet received by the caller;
 *  3. app's `clear` sent → first silent RTP packet at the caller (10 s of tone queued, cleared after 1 s).
 * Frames are matched by tags written into the µ-law payload. Inbound PCMU passes through unchanged;
 * outbound audio is decoded and re-encoded, which keeps every µ-law code word except 0x7F (0x7F and
 * 0xFF both mean zero), so tags use neither. Each latency is also split at Patchbay's 20 ms media
 * tick, whose index every frame carries (`media.timestamp` inbound, the RTP timestamp outbound), so
 * the wait for the next tick is told apart from what happens after it.
 * Callers are Patchbay's own SIP UAC and RTP sessions (main thread); the app is a `ws` server in a
 * worker thread of this process, so neither slows the other's timestamps, and both read the same
 * monotonic clock (process.hrtime). Patchbay runs as a child process. The callers use 10 media
 * clocks started 2 ms apart, so their ticks fall at different phases of Patchbay's, as real callers' do.
 * Usage: node --import tsx bench/media-streams.ts [--levels 1,100,500] [--seconds 10]
 *        [--single-calls 10] [--single-seconds 2] [--setup-rate 100]
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { WebSocketServer, type WebSocket } from 'ws';
import { AppServer } from '../test/interop/harness/app-server.js';
import { spawnPatchbay, type ChildPatchbay } from '../test/interop/harness/child-patchbay.js';
import { SipStack } from '../src/sip/sip-stack.js';
import type { Dialog } from '../src/sip/dialog.js';
import { createOffer, readAnswer } from '../src/sip/offer-answer.js';
import { RtpSession } from '../src/media/rtp-session.js';
import { MediaClock } from '../src/media/media-clock.js';
import { PortAllocator } from '../src/media/port-allocator.js';
import { linearToMulaw, mulawToLinear } from '../src/media/g711.js';

/** Every bench call lands on the one default account: its inbound limits (50 calls/s, 500 live) would cap the bench, not Patchbay. */
const NO_ACCOUNT_LIMITS = { PATCHBAY_ACCOUNT_INBOUND_CPS: '0', PATCHBAY_ACCOUNT_INBOUND_MAX_CALLS: '0' };

const args = process.argv.slice(2);
const arg = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : dflt;
};
const LEVELS = arg('--levels', '1,100,500').split(',').map(Number);
const WINDOW_S = Number(arg('--seconds', '10'));
const SINGLE_CALLS = Number(arg('--single-calls', '10'));
const SINGLE_WINDOW_S = Number(arg('--single-seconds', '2'));
const SETUP_RATE = Number(arg('--setup-rate', '100'));
const CALLER_CLOCKS = 10;
const FRAME = 160;
const TICK = 20;

/** Monotonic ms, the same clock in every thread (performance.now() has a per-thread origin). */
function now(): number {
  const [s, ns] = process.hrtime();
  return s * 1e3 + ns / 1e6;
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---- tags: two magic bytes, then a 16-bit counter as four bytes 0x20..0x2F (never 0x7F or 0xFF) ----
const IN_MAGIC = [0x5a, 0x3c] as const;
const OUT_MAGIC = [0x4b, 0x2d] as const;
const FILL = 0x6b;

function writeTag(buf: Uint8Array, magic: readonly [number, number], n: number): void {
  buf[0] = magic[0];
  buf[1] = magic[1];
  for (let i = 0; i < 4; i++) buf[2 + i] = 0x20 | ((n >> (12 - 4 * i)) & 0xf);
}

function readTag(b: ArrayLike<number>, magic: readonly [number, number]): number {
  if (b[0] !== magic[0] || b[1] !== magic[1]) return -1;
  let n = 0;
  for (let i = 0; i < 4; i++) {
    const v = b[2 + i]!;
    if ((v & 0xf0) !== 0x20) return -1;
    n = (n << 4) | (v & 0xf);
  }
  return n;
}

// ---- the app (worker thread) ----

/** What the app saw on one stream; flat arrays: inArr = [tag, arrived, tickMs]*, outSent = [tag, sent]*. */
interface AppReport {
  callId: string;
  /** min(arrival − media.timestamp): when a Patchbay tick's frame reaches the app at the earliest. */
  wsPhase: number;
  inArr: number[];
  outSent: number[];
  clearAt: number | null;
}
type ToApp = { type: 'window'; on: boolean } | { type: 'clear-test'; spreadMs: number } | { type: 'report' };
type FromApp = { type: 'listening'; url: string } | { type: 'started'; callId: string } | { type: 'cleared' } | { type: 'report'; conns: AppReport[]; loopP99: number };

function runApp(): void {
  const parent = parentPort!;
  // 1 s of a 440 Hz tone in µ-law (a whole number of cycles, so the 1 s messages join without clicks).
  const tone = Buffer.from(Array.from({ length: 8000 }, (_, i) => linearToMulaw(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 8000))))).toString('base64');
  interface Conn { ws: WebSocket; streamSid: string; nextTag: number; timer: NodeJS.Timeout | null; quiet: boolean; r: AppReport }
  let conns: Conn[] = [];
  let recording = false;
  let windowOpen = false;
  const loop = monitorEventLoopDelay({ resolution: 1 });
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  wss.on('listening', () => parent.postMessage({ type: 'listening', url: `ws://127.0.0.1:${(wss.address() as { port: number }).port}/agent` } satisfies FromApp));

  // A tagged 20 ms frame every 80–120 ms: the queue is empty each time, and send times fall at random phases.
  const sendTagged = (c: Conn): void => {
    if (c.quiet) return;
    const bytes = Buffer.alloc(FRAME, FILL);
    const tag = c.nextTag++ & 0xffff;
    writeTag(bytes, OUT_MAGIC, tag);
    const msg = `{"event":"media","streamSid":"${c.streamSid}","media":{"payload":"${bytes.toString('base64')}"}}`;
    if (windowOpen) c.r.outSent.push(tag, now());
    c.ws.send(msg);
    c.timer = setTimeout(() => sendTagged(c), 80 + Math.random() * 40);
  };

  wss.on('connection', (ws) => {
    const c: Conn = { ws, streamSid: '', nextTag: 0, timer: null, quiet: false, r: { callId: '', wsPhase: Infinity, inArr: [], outSent: [], clearAt: null } };
    conns.push(c);
    ws.on('close', () => {
      c.quiet = true;
      if (c.timer) clearTimeout(c.timer);
    });
    ws.on('message', (data: Buffer) => {
      const t = now();
      const text = data.toString('latin1');
      if (text.startsWith('{"event":"media"')) {
        // Patchbay's key order is fixed (media-stream-messages.ts), so no JSON.parse on the hot path.
        const i = text.indexOf('"timestamp":"') + 13;
        const j = text.indexOf('"', i);
        const tickMs = Number(text.slice(i, j));
        if (t - tickMs < c.r.wsPhase) c.r.wsPhase = t - tickMs;
        if (!recording) return;
        const p = text.indexOf('"payload":"', j) + 11;
        const tag = readTag(Buffer.from(text.slice(p, p + 8), 'base64'), IN_MAGIC);
        if (tag >= 0) c.r.inArr.push(tag, t, tickMs);
        return;
      }
      const m = JSON.parse(text) as { event: string; streamSid?: string; start?: { customParameters: Record<string, string> } };
      if (m.event !== 'start') return;
      c.r.callId = m.start!.customParameters.callId ?? '';
      c.streamSid = m.streamSid ?? '';
      parent.postMessage({ type: 'started', callId: c.r.callId } satisfies FromApp);
      sendTagged(c);
    });
  });

  parent.on('message', (m: ToApp) => {
    if (m.type === 'window') {
      windowOpen = m.on;
      if (m.on) {
        recording = true;
        loop.reset();
        loop.enable();
      } else loop.disable();
    } else if (m.type === 'clear-test') {
      // 10 s of tone in 1 s messages, then `clear` 1 s later; calls start at random offsets within spreadMs.
      const live = conns.filter((c) => !c.quiet);
      let left = live.length;
      if (left === 0) parent.postMessage({ type: 'cleared' } satisfies FromApp);
      for (const c of live) {
        setTimeout(() => {
          c.quiet = true;
          if (c.timer) clearTimeout(c.timer);
          const msg = `{"event":"media","streamSid":"${c.streamSid}","media":{"payload":"${tone}"}}`;
          for (let i = 0; i < 10; i++) c.ws.send(msg);
          setTimeout(() => {
            c.r.clearAt = now();
            c.ws.send(`{"event":"clear","streamSid":"${c.streamSid}"}`);
            if (--left === 0) parent.postMessage({ type: 'cleared' } satisfies FromApp);
          }, 1000);
        }, Math.random() * m.spreadMs);
      }
    } else {
      parent.postMessage({ type: 'report', conns: conns.map((c) => c.r), loopP99: loop.percentile(99) / 1e6 } satisfies FromApp);
      conns = [];
      recording = false;
    }
  });
}

// ---- the callers and the report (main thread) ----

interface Sample {
  sent: number;
  arrived: number;
  /** Patchbay tick the frame went out on, in ms of that stream's own time line. */
  tickMs: number;
}

interface Leg {
  callId: string;
  rtp: RtpSession;
  dialog: Dialog | null;
  started: Promise<void>;
  onStart: () => void;
  measuring: boolean;
  closed: boolean;
  nextInTag: number;
  inSent: Map<number, number>;
  inSentCount: number;
  /** [tag, arrived, tickMs]* of the app's tagged frames. */
  outArr: number[];
  ts0: number | null;
  /** min(arrival − RTP time): when a Patchbay tick's packet reaches the caller at the earliest. */
  rtpPhase: number;
  toneHeard: boolean;
  lastSilent: boolean;
  /** [arrived, tickMs]* of each return to silence after the tone started. */
  onsets: number[];
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
const xmlEscape = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function cpuTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]); // utime + stime, in 1/100 s
}

async function clockCounters(pb: ChildPatchbay): Promise<{ late: number; skipped: number }> {
  const text = await (await fetch(`http://127.0.0.1:${pb.httpPort}/metrics`)).text();
  const num = (name: string): number => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? NaN);
  return { late: num('patchbay_media_clock_late_ticks'), skipped: num('patchbay_media_clock_skipped_ticks') };
}

interface Split {
  total: number;
  /** Sent → Patchbay's next tick. */
  wait: number;
  /** Whole ticks between that tick and the one the frame went out on. */
  ticks: number;
  /** The frame's tick → arrival. */
  after: number;
}

function split(s: Sample, phase: number): Split {
  const firstTick = Math.ceil((s.sent - phase) / TICK) * TICK;
  return { total: s.arrived - s.sent, wait: phase + firstTick - s.sent, ticks: Math.round((s.tickMs - firstTick) / TICK), after: s.arrived - (phase + s.tickMs) };
}

interface LevelResult {
  level: number;
  calls: number;
  legs: Leg[];
  reports: Map<string, AppReport>;
  windowS: number;
  cpuPct: number;
  loopP99: number;
  appLoopP99: number;
  lateTicks: number;
  skipped: number;
  /** Skipped ticks over the whole level, set-up and clear test included. */
  skippedAll: number;
}

async function main(): Promise<void> {
  const legs = new Map<string, Leg>();
  // This same file is the worker's code; tsx's loader hooks must be registered in the worker too.
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const worker = new Worker(`import(${tsx}).then((m) => { m.register(); return import(${JSON.stringify(import.meta.url)}); })`, { eval: true });
  const waiting = new Map<string, (m: FromApp) => void>();
  worker.on('message', (m: FromApp) => {
    if (m.type === 'started') legs.get(m.callId)?.onStart();
    else waiting.get(m.type)?.(m);
  });
  worker.on('error', (err) => {
    console.error(err);
    process.exit(1);
  });
  function ask<T extends FromApp['type']>(type: T, msg?: ToApp): Promise<Extract<FromApp, { type: T }>> {
    return new Promise((resolve) => {
      waiting.set(type, resolve as (m: FromApp) => void);
      if (msg) worker.postMessage(msg);
    });
  }
  const wsUrl = (await ask('listening')).url;
  const app = await new AppServer().start();
  app.route('/voice', (req, res) => {
    res.writeHead(200, { 'content-type': 'text/xml' });
    res.end(`<Response><Connect><Stream url="${wsUrl}"><Parameter name="callId" value="${xmlEscape(req.params.SipCallId ?? '')}"/></Stream></Connect></Response>`);
  });

  const dataDir = mkdtempSync(join(tmpdir(), 'pb-streams-'));
  const pb = await spawnPatchbay(dataDir, { PATCHBAY_VOICE_URL: app.url('/voice'), PATCHBAY_LOG_LEVEL: 'warn', PATCHBAY_RTP_PORTS: '20000-29999', PATCHBAY_MAX_CALLS: '1000', ...NO_ACCOUNT_LIMITS });
  const stack = new SipStack({ host: '127.0.0.1', port: 0, publicHost: '127.0.0.1', userAgent: 'streams-bench' });
  await stack.start();
  const clocks = Array.from({ length: CALLER_CLOCKS }, () => new MediaClock({ precisionMarginMs: 0 }));
  for (const c of clocks) {
    c.start();
    await sleep(TICK / CALLER_CLOCKS);
  }
  const ports = new PortAllocator(40000, 49999);

  /** One second of the caller's voice: 50 frames, each tagged with its own counter. */
  function feed(leg: Leg): void {
    if (leg.closed) return;
    const pcm = new Int16Array(FRAME * 50);
    const bytes = new Uint8Array(FRAME).fill(FILL);
    for (let f = 0; f < 50; f++) {
      writeTag(bytes, IN_MAGIC, leg.nextInTag++ & 0xffff);
      for (let i = 0; i < FRAME; i++) pcm[f * FRAME + i] = mulawToLinear(bytes[i]!);
    }
    void leg.rtp.output.play(pcm).then((r) => r === 'finished' && feed(leg));
  }

  async function placeCall(index: number): Promise<Leg | null> {
    const rtp = await RtpSession.open({ bindAddress: '127.0.0.1', ports, clock: clocks[index % CALLER_CLOCKS]! });
    const offer = createOffer({ address: '127.0.0.1', port: rtp.localPort, sessionId: '1', sessionVersion: 1, codecs: ['PCMU'] });
    const target = `sip:bench@127.0.0.1:${pb.sipPort}`;
    const invite = stack.invite({ uri: target, from: 'sip:caller@127.0.0.1', to: target, body: Buffer.from(offer), contentType: 'application/sdp' });
    let onStart = (): void => undefined;
    const started = new Promise<void>((r) => (onStart = r));
    const leg: Leg = {
      callId: invite.request.headers.get('call-id') ?? '', rtp, dialog: null, started, onStart, measuring: false, closed: false,
      nextInTag: 0, inSent: new Map(), inSentCount: 0, outArr: [], ts0: null, rtpPhase: Infinity, toneHeard: false, lastSilent: true, onsets: [],
    };
    legs.set(leg.callId, leg);
    const scratch = new Uint8Array(6);
    // The caller's send time: 'tick' is emitted just before that tick's packet is sent, in the same call.
    rtp.on('tick', (pcm) => {
      if (!leg.measuring) return;
      for (let i = 0; i < 6; i++) scratch[i] = linearToMulaw(pcm[i]!);
      const tag = readTag(scratch, IN_MAGIC);
      if (tag < 0) return;
      leg.inSent.set(tag, now());
      leg.inSentCount++;
    });
    rtp.on('rtp', (p) => {
      const t = now();
      if (p.payloadType !== 0) return;
      leg.ts0 ??= p.timestamp;
      const tickMs = ((p.timestamp - leg.ts0) >>> 0) / 8;
      if (t - tickMs < leg.rtpPhase) leg.rtpPhase = t - tickMs;
      const tag = readTag(p.payload, OUT_MAGIC);
      if (tag >= 0) {
        leg.outArr.push(tag, t, tickMs);
        leg.lastSilent = false;
        return;
      }
      const silent = p.payload.every((b) => b === 0xff);
      if (!silent) leg.toneHeard = true; // untagged sound: the tone
      else if (leg.toneHeard && !leg.lastSilent) leg.onsets.push(t, tickMs);
      leg.lastSilent = silent;
    });
    const outcome = await invite.done;
    if (outcome.kind !== 'answered') {
      legs.delete(leg.callId);
      await rtp.close();
      return null;
    }
    leg.dialog = outcome.dialog;
    const negotiated = readAnswer(outcome.response.body.toString('latin1'), ['PCMU']);
    if (negotiated) rtp.configure(negotiated);
    feed(leg);
    feed(leg); // always a second queued ahead
    return leg;
  }

  async function hangUp(leg: Leg): Promise<void> {
    leg.closed = true;
    try {
      await leg.dialog?.sendBye();
    } finally {
      leg.rtp.output.clear();
      await leg.rtp.close();
      legs.delete(leg.callId);
    }
  }

  async function runLevel(level: number, rounds: number, windowS: number): Promise<LevelResult> {
    const res: LevelResult = { level, calls: level * rounds, legs: [], reports: new Map(), windowS: 0, cpuPct: 0, loopP99: 0, appLoopP99: 0, lateTicks: 0, skipped: 0, skippedAll: 0 };
    const loop = monitorEventLoopDelay({ resolution: 1 });
    const first = await clockCounters(pb);
    let cpu = 0;
    let wall = 0;
    for (let r = 0; r < rounds; r++) {
      const placed = await Promise.all(Array.from({ length: level }, (_, i) => sleep((i * 1000) / SETUP_RATE).then(() => placeCall(r + i))));
      const up = placed.filter((l): l is Leg => l !== null);
      await Promise.race([Promise.all(up.map((l) => l.started)), sleep(15000)]);
      await sleep(1000); // jitter buffers primed, every stream flowing
      const before = await clockCounters(pb);
      const cpu0 = cpuTicks(pb.proc.pid!);
      const t0 = now();
      loop.enable();
      worker.postMessage({ type: 'window', on: true } satisfies ToApp);
      for (const l of up) l.measuring = true;
      await sleep(windowS * 1000);
      for (const l of up) l.measuring = false;
      worker.postMessage({ type: 'window', on: false } satisfies ToApp);
      loop.disable();
      wall += now() - t0;
      cpu += cpuTicks(pb.proc.pid!) - cpu0;
      const after = await clockCounters(pb);
      res.lateTicks += after.late - before.late;
      res.skipped += after.skipped - before.skipped;
      await ask('cleared', { type: 'clear-test', spreadMs: level > 1 ? 1000 : 0 });
      await sleep(500);
      const report = await ask('report', { type: 'report' });
      for (const c of report.conns) res.reports.set(c.callId, c);
      res.appLoopP99 = Math.max(res.appLoopP99, report.loopP99);
      await Promise.all(up.map((l) => hangUp(l)));
      res.legs.push(...up);
    }
    const last = await clockCounters(pb);
    return { ...res, skippedAll: last.skipped - first.skipped, windowS: wall / 1000, cpuPct: ((cpu * 10) / wall) * 100, loopP99: loop.percentile(99) / 1e6 };
  }

  try {
    const results: LevelResult[] = [];
    for (const n of LEVELS) {
      console.error(`# ${n} concurrent call(s)…`);
      results.push(n === 1 ? await runLevel(1, SINGLE_CALLS, SINGLE_WINDOW_S) : await runLevel(n, 1, WINDOW_S));
    }
    report(results);
  } finally {
    // Also on failure: the child Patchbay would otherwise outlive us.
    for (const c of clocks) c.stop();
    await worker.terminate();
    await stack.stop();
    pb.proc.kill('SIGTERM');
    await pb.exited;
    await app.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Joins what the callers and the app saw, prints the tables, writes bench/results/media-streams-<ms>.json. */
function report(results: LevelResult[]): void {
  const f = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '-');
  const stats = (xs: number[]): { n: number; p50: number; p99: number; max: number } => ({ n: xs.length, p50: percentile(xs, 50), p99: percentile(xs, 99), max: xs.length ? xs.reduce((a, b) => Math.max(a, b), -Infinity) : NaN });
  const col = (xs: Split[], k: keyof Split): number[] => xs.map((x) => x[k]);
  const rows: string[][] = [[], [], [], []];
  const summary: Record<string, unknown>[] = [];
  for (const r of results) {
    const inS: Split[] = [];
    /** Mean jitter-buffer ticks of each fifth of the calls, in set-up order (early calls lived through more of the ramp). */
    const depthByFifth = [0, 0, 0, 0, 0].map(() => ({ sum: 0, n: 0 }));
    const outS: Split[] = [];
    const clr: Split[] = [];
    let outSent = 0;
    let gaps = 0;
    let streams = 0;
    for (const leg of r.legs) {
      const app = r.reports.get(leg.callId);
      if (!app) continue;
      streams++;
      for (let i = 0; i < app.inArr.length; i += 3) {
        const sent = leg.inSent.get(app.inArr[i]!);
        if (sent === undefined) continue;
        const s = split({ sent, arrived: app.inArr[i + 1]!, tickMs: app.inArr[i + 2]! }, app.wsPhase);
        inS.push(s);
        const fifth = depthByFifth[Math.floor((5 * (streams - 1)) / r.legs.length)]!;
        fifth.sum += s.ticks;
        fifth.n++;
      }
      const sentAt = new Map<number, number>();
      for (let i = 0; i < app.outSent.length; i += 2) sentAt.set(app.outSent[i]!, app.outSent[i + 1]!);
      outSent += sentAt.size;
      for (let i = 0; i < leg.outArr.length; i += 3) {
        const sent = sentAt.get(leg.outArr[i]!);
        if (sent === undefined) continue;
        sentAt.delete(leg.outArr[i]!);
        outS.push(split({ sent, arrived: leg.outArr[i + 1]!, tickMs: leg.outArr[i + 2]! }, leg.rtpPhase));
      }
      if (app.clearAt === null) continue;
      for (let i = 0; i < leg.onsets.length; i += 2) {
        if (leg.onsets[i]! < app.clearAt) gaps++; // the tone stopped before the clear: a playout underrun
        else {
          clr.push(split({ sent: app.clearAt, arrived: leg.onsets[i]!, tickMs: leg.onsets[i + 1]! }, leg.rtpPhase));
          break;
        }
      }
    }
    const inSent = r.legs.reduce((a, l) => a + l.inSentCount, 0);
    const level = r.legs.length === r.calls ? String(r.level) : `${r.level} (${r.legs.length}/${r.calls} answered)`;
    const tot = (xs: Split[]): string => { const s = stats(col(xs, 'total')); return `${f(s.p50)} | ${f(s.p99)} | ${f(s.max)}`; };
    const aft = (xs: Split[]): string => { const s = stats(col(xs, 'after')); return `${f(s.p50)} | ${f(s.p99)} | ${f(s.max)}`; };
    const late = (xs: Split[]): number => xs.filter((x) => x.ticks > 0).length;
    const meanTicks = inS.reduce((a, x) => a + x.ticks, 0) / (inS.length || 1);
    rows[0]!.push(`| ${level} | ${inS.length}/${inSent} | ${tot(inS)} | ${f(percentile(col(inS, 'wait'), 50))} | ${meanTicks.toFixed(2)} (${f(percentile(col(inS, 'ticks'), 99))}) | ${aft(inS)} |`);
    rows[1]!.push(`| ${level} | ${outS.length}/${outSent} | ${tot(outS)} | ${f(percentile(col(outS, 'wait'), 50))} | ${late(outS)} | ${aft(outS)} |`);
    rows[2]!.push(`| ${level} | ${clr.length}/${streams} | ${tot(clr)} | ${clr.filter((c) => c.total <= TICK).length} | ${late(clr)} | ${aft(clr)} | ${gaps} |`);
    rows[3]!.push(`| ${level} | ${r.windowS.toFixed(0)} s | ${r.cpuPct.toFixed(0)} % | ${f(r.loopP99)} | ${f(r.appLoopP99)} | ${r.lateTicks} | ${r.skipped} | ${r.skippedAll} |`);
    const parts = (xs: Split[]): Record<string, unknown> => ({ total: stats(col(xs, 'total')), tickWait: stats(col(xs, 'wait')), ticks: stats(col(xs, 'ticks')), afterTick: stats(col(xs, 'after')) });
    summary.push({
      calls: r.level, answered: r.legs.length, streams, windowS: r.windowS, patchbayCpuPct: r.cpuPct, callerLoopDelayP99Ms: r.loopP99, appLoopDelayP99Ms: r.appLoopP99,
      lateTicks: r.lateTicks, skippedTicks: r.skipped, rtpToWs: { sent: inSent, ...parts(inS), jitterTicksBySetupFifth: depthByFifth.map((d) => d.sum / (d.n || 1)) }, wsToRtp: { sent: outSent, ...parts(outS) }, clearToSilence: { ...parts(clr), toneGaps: gaps },
    });
  }
  const table = (title: string, head: string, body: string[]): void => {
    console.log(`\n${title}\n\n${head}\n${head.replace(/[^|]+/g, '---:')}`);
    for (const row of body) console.log(row);
  };
  console.log(`\nMedia Streams latency (${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}). Times in ms.`);
  table('1. RTP packet in → WebSocket `media` frame out (caller sends → app receives)',
    '| calls | frames matched | p50 | p99 | max | wait for tick p50 | ticks held in the jitter buffer, mean (p99) | after the tick p50 | p99 | max |', rows[0]!);
  table('2. WebSocket `media` frame in → RTP packet out (app sends → caller receives)',
    '| calls | frames matched | p50 | p99 | max | wait for tick p50 | frames that missed that tick | after the tick p50 | p99 | max |', rows[1]!);
  table('3. `clear` → first silent RTP packet at the caller (10 s of tone queued, cleared after 1 s)',
    '| calls | cleared | p50 | p99 | max | within 20 ms | missed the next tick | after the tick p50 | p99 | max | tone gaps before clear |', rows[2]!);
  table('Conditions during the measuring windows',
    '| calls | window | Patchbay CPU | caller thread loop delay p99 | app thread loop delay p99 | media-clock late ticks (>5 ms) | skipped ticks | skipped ticks, whole level |', rows[3]!);
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `media-streams-${Date.now()}.json`);
  writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: cpus().length, levels: summary }, null, 2)}\n`);
  console.log(`\nresults: ${file}`);
}

if (isMainThread) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
} else {
  runApp();
}
