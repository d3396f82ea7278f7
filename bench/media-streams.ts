/**
 * Media Streams latency benchmark (not a test): the delay Patchbay adds on a bidirectional
 * `<Connect><Stream>` (Twilio's JSON protocol), at 1, 100 and 500 concurrent calls.
 *  1. caller's RTP packet sent → the matching `media` frame received by the app;
 *  2. app's 20 ms `media` frame sent → the matching RTP packet received by the caller;
 *  3. app's `clear` sent → first silent RTP packet at the caller (10 s of tone queued, cleared after 1 s).
 * Frames are matched by tags written into the µ-law payload. Inbound PCMU passes through unchanged;
 * outbound audio is decoded and re-encoded, which keeps every µ-law code word except 0x7F (0x7F and
 * 0xFF both mean zero), so tags use neither. Each latency is also split at Patchbay's 20 ms media
 * tick, whose index every frame carries (`media.timestamp` inbound, the RTP timestamp outbound): the
 * wait for the next tick is told apart from what happens after it.
 * Callers are Patchbay's own SIP UAC and RTP sessions and the app is a `ws` server, all in this
 * process, so send and receive times come from one clock; Patchbay runs as a child process. The
 * callers use 10 media clocks started 2 ms apart, so their ticks fall at different phases of
 * Patchbay's, as real callers' do.
 * Usage: node --import tsx bench/media-streams.ts [--levels 1,100,500] [--seconds 10]
 *        [--single-calls 10] [--single-seconds 2] [--setup-rate 100]
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
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

/** 1 s of a 440 Hz tone in µ-law, base64 (a whole number of cycles, so chunks join without clicks). */
const TONE_B64 = Buffer.from(Array.from({ length: 8000 }, (_, i) => linearToMulaw(Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / 8000))))).toString('base64');

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
  ws: WebSocket | null;
  streamSid: string;
  started: Promise<void>;
  onStart: () => void;
  measuring: boolean;
  closed: boolean;
  nextInTag: number;
  nextOutTag: number;
  inSent: Map<number, number>;
  inSentCount: number;
  inSamples: Sample[];
  /** min(arrival − media.timestamp): when each Patchbay tick's frame can reach the app at the earliest. */
  wsPhase: number;
  outSent: Map<number, number>;
  outSentCount: number;
  outSamples: Sample[];
  outTimer: NodeJS.Timeout | null;
  ts0: number | null;
  /** min(arrival − RTP time): the same for Patchbay's RTP packets at the caller. */
  rtpPhase: number;
  toneAt: number | null;
  toneHeard: boolean;
  toneGaps: number;
  clearAt: number | null;
  silence: Sample | null;
}

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
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

/** Splits a latency at Patchbay's tick: sent → next tick due, whole ticks missed, and the rest after the tick. */
function split(s: Sample, phase: number): { total: number; wait: number; ticks: number; after: number } {
  const firstTick = Math.ceil((s.sent - phase) / TICK) * TICK;
  return { total: s.arrived - s.sent, wait: phase + firstTick - s.sent, ticks: Math.round((s.tickMs - firstTick) / TICK), after: s.arrived - (phase + s.tickMs) };
}

async function main(): Promise<void> {
  const legs = new Map<string, Leg>();
  const app = await new AppServer().start();
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  const wsUrl = `ws://127.0.0.1:${(wss.address() as { port: number }).port}/agent`;
  app.route('/voice', (req, res) => {
    res.writeHead(200, { 'content-type': 'text/xml' });
    res.end(`<Response><Connect><Stream url="${wsUrl}"><Parameter name="callId" value="${xmlEscape(req.params.SipCallId ?? '')}"/></Stream></Connect></Response>`);
  });

  // The app: records tagged caller frames, sends tagged frames back every 80–120 ms (random phase).
  wss.on('connection', (ws) => {
    let leg: Leg | undefined;
    ws.on('message', (data: Buffer) => {
      const now = performance.now();
      const m = JSON.parse(data.toString('utf8')) as { event: string; streamSid?: string; start?: { customParameters: Record<string, string> }; media?: { timestamp: string; payload: string } };
      if (m.event === 'start') {
        leg = legs.get(m.start!.customParameters.callId ?? '');
        if (!leg) return void ws.close(1000);
        leg.ws = ws;
        leg.streamSid = m.streamSid ?? '';
        leg.onStart();
        sendTagged(leg);
      } else if (m.event === 'media' && leg) {
        const tickMs = Number(m.media!.timestamp);
        if (now - tickMs < leg.wsPhase) leg.wsPhase = now - tickMs;
        const tag = readTag(Buffer.from(m.media!.payload.slice(0, 8), 'base64'), IN_MAGIC);
        const sent = tag >= 0 ? leg.inSent.get(tag) : undefined;
        if (sent !== undefined) {
          leg.inSent.delete(tag);
          leg.inSamples.push({ sent, arrived: now, tickMs });
        }
      }
    });
  });

  function sendTagged(leg: Leg): void {
    if (leg.closed || leg.toneAt !== null || !leg.ws) return;
    const bytes = Buffer.alloc(FRAME, FILL);
    const tag = leg.nextOutTag++ & 0xffff;
    writeTag(bytes, OUT_MAGIC, tag);
    const msg = `{"event":"media","streamSid":"${leg.streamSid}","media":{"payload":"${bytes.toString('base64')}"}}`;
    if (leg.measuring) {
      leg.outSent.set(tag, performance.now());
      leg.outSentCount++;
    }
    leg.ws.send(msg);
    leg.outTimer = setTimeout(() => sendTagged(leg), 80 + Math.random() * 40);
  }

  const dataDir = mkdtempSync(join(tmpdir(), 'pb-streams-'));
  const pb = await spawnPatchbay(dataDir, { PATCHBAY_VOICE_URL: app.url('/voice'), PATCHBAY_LOG_LEVEL: 'warn', PATCHBAY_RTP_PORTS: '20000-29999', PATCHBAY_MAX_CALLS: '1000' });
  const stack = new SipStack({ host: '127.0.0.1', port: 0, publicHost: '127.0.0.1', userAgent: 'streams-bench' });
  await stack.start();
  const clocks = Array.from({ length: CALLER_CLOCKS }, () => new MediaClock({ precisionMarginMs: 0 }));
  for (const c of clocks) {
    c.start();
    await sleep(TICK / CALLER_CLOCKS);
  }
  const ports = new PortAllocator(40000, 49999);

  /** One second of the caller's voice: 50 frames, each tagged with its own counter. */
  function callerSecond(leg: Leg): Int16Array {
    const pcm = new Int16Array(FRAME * 50);
    const bytes = new Uint8Array(FRAME).fill(FILL);
    for (let f = 0; f < 50; f++) {
      writeTag(bytes, IN_MAGIC, leg.nextInTag++ & 0xffff);
      for (let i = 0; i < FRAME; i++) pcm[f * FRAME + i] = mulawToLinear(bytes[i]!);
    }
    return pcm;
  }
  function feed(leg: Leg): void {
    if (leg.closed) return;
    void leg.rtp.output.play(callerSecond(leg)).then((r) => r === 'finished' && feed(leg));
  }

  async function placeCall(index: number): Promise<Leg | null> {
    const rtp = await RtpSession.open({ bindAddress: '127.0.0.1', ports, clock: clocks[index % CALLER_CLOCKS]! });
    const offer = createOffer({ address: '127.0.0.1', port: rtp.localPort, sessionId: '1', sessionVersion: 1, codecs: ['PCMU'] });
    const invite = stack.invite({ uri: `sip:bench@127.0.0.1:${pb.sipPort}`, from: 'sip:caller@127.0.0.1', to: `sip:bench@127.0.0.1:${pb.sipPort}`, body: Buffer.from(offer), contentType: 'application/sdp' });
    let onStart = (): void => undefined;
    const started = new Promise<void>((r) => (onStart = r));
    const leg: Leg = {
      callId: invite.request.headers.get('call-id') ?? '', rtp, dialog: null, ws: null, streamSid: '', started, onStart, measuring: false, closed: false,
      nextInTag: 0, nextOutTag: 0, inSent: new Map(), inSentCount: 0, inSamples: [], wsPhase: Infinity,
      outSent: new Map(), outSentCount: 0, outSamples: [], outTimer: null, ts0: null, rtpPhase: Infinity,
      toneAt: null, toneHeard: false, toneGaps: 0, clearAt: null, silence: null,
    };
    legs.set(leg.callId, leg);
    const scratch = new Uint8Array(6);
    // The caller's send time: 'tick' is emitted just before the frame is sent, in the same call.
    rtp.on('tick', (pcm) => {
      if (!leg.measuring) return;
      for (let i = 0; i < 6; i++) scratch[i] = linearToMulaw(pcm[i]!);
      const tag = readTag(scratch, IN_MAGIC);
      if (tag < 0) return;
      leg.inSent.set(tag, performance.now());
      leg.inSentCount++;
    });
    rtp.on('rtp', (p) => {
      const now = performance.now();
      if (p.payloadType !== 0) return;
      leg.ts0 ??= p.timestamp;
      const tickMs = ((p.timestamp - leg.ts0) >>> 0) / 8;
      if (now - tickMs < leg.rtpPhase) leg.rtpPhase = now - tickMs;
      const pl = p.payload;
      const tag = readTag(pl, OUT_MAGIC);
      const sent = tag >= 0 ? leg.outSent.get(tag) : undefined;
      if (sent !== undefined) {
        leg.outSent.delete(tag);
        leg.outSamples.push({ sent, arrived: now, tickMs });
      }
      if (leg.toneAt === null || leg.silence) return;
      const silent = pl.every((b) => b === 0xff);
      if (!silent) leg.toneHeard = true;
      else if (leg.clearAt !== null && leg.toneHeard) leg.silence = { sent: leg.clearAt, arrived: now, tickMs };
      else if (leg.toneHeard) leg.toneGaps++;
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
    feed(leg);
    return leg;
  }

  /** Queues 10 s of tone in 1 s messages, and clears it 1 s later. */
  async function clearTest(leg: Leg, offsetMs: number): Promise<void> {
    await sleep(offsetMs);
    if (!leg.ws) return;
    if (leg.outTimer) clearTimeout(leg.outTimer);
    leg.toneAt = performance.now();
    const msg = `{"event":"media","streamSid":"${leg.streamSid}","media":{"payload":"${TONE_B64}"}}`;
    for (let i = 0; i < 10; i++) leg.ws.send(msg);
    await sleep(1000);
    leg.clearAt = performance.now();
    leg.ws.send(`{"event":"clear","streamSid":"${leg.streamSid}"}`);
  }

  async function hangUp(leg: Leg): Promise<void> {
    leg.closed = true;
    if (leg.outTimer) clearTimeout(leg.outTimer);
    try {
      await leg.dialog?.sendBye();
    } finally {
      leg.rtp.output.clear();
      await leg.rtp.close();
      legs.delete(leg.callId);
    }
  }

  interface LevelResult {
    level: number;
    calls: number;
    answered: number;
    legs: Leg[];
    windowS: number;
    cpuPct: number;
    loopP99: number;
    lateTicks: number;
    skipped: number;
  }

  async function runLevel(concurrency: number, rounds: number, windowS: number): Promise<LevelResult> {
    const done: Leg[] = [];
    let cpu = 0;
    let wall = 0;
    const loop = monitorEventLoopDelay({ resolution: 1 });
    const before = await clockCounters(pb);
    for (let r = 0; r < rounds; r++) {
      const placed = await Promise.all(Array.from({ length: concurrency }, (_, i) => sleep((i * 1000) / SETUP_RATE).then(() => placeCall(r + i))));
      const up = placed.filter((l): l is Leg => l !== null);
      await Promise.race([Promise.all(up.map((l) => l.started)), sleep(15000)]);
      await sleep(1000); // jitter buffers settled, every stream flowing
      const cpu0 = cpuTicks(pb.proc.pid!);
      const t0 = performance.now();
      loop.enable();
      for (const l of up) l.measuring = true;
      await sleep(windowS * 1000);
      for (const l of up) l.measuring = false;
      loop.disable();
      wall += performance.now() - t0;
      cpu += cpuTicks(pb.proc.pid!) - cpu0;
      await Promise.all(up.map((l) => clearTest(l, concurrency > 1 ? Math.random() * 1000 : 0)));
      await sleep(500);
      await Promise.all(up.map((l) => hangUp(l)));
      done.push(...up);
    }
    const after = await clockCounters(pb);
    return {
      level: concurrency, calls: concurrency * rounds, answered: done.length, legs: done, windowS: wall / 1000, cpuPct: ((cpu * 10) / wall) * 100,
      loopP99: loop.percentile(99) / 1e6, lateTicks: after.late - before.late, skipped: after.skipped - before.skipped,
    };
  }

  const results: LevelResult[] = [];
  for (const n of LEVELS) {
    console.error(`# ${n} concurrent call(s)…`);
    results.push(n === 1 ? await runLevel(1, SINGLE_CALLS, SINGLE_WINDOW_S) : await runLevel(n, 1, WINDOW_S));
  }

  const f = (x: number): string => (Number.isFinite(x) ? x.toFixed(1) : '-');
  const summary: Record<string, unknown>[] = [];
  const t1: string[] = [];
  const t2: string[] = [];
  const t3: string[] = [];
  const t4: string[] = [];
  for (const r of results) {
    const level = r.answered === r.calls ? String(r.level) : `${r.level} (${r.answered}/${r.calls} answered)`;
    const inS = r.legs.flatMap((l) => l.inSamples.map((s) => split(s, l.wsPhase)));
    const inSent = r.legs.reduce((a, l) => a + l.inSentCount, 0);
    const outS = r.legs.flatMap((l) => l.outSamples.map((s) => split(s, l.rtpPhase)));
    const outSent = r.legs.reduce((a, l) => a + l.outSentCount, 0);
    const clr = r.legs.flatMap((l) => (l.silence ? [split(l.silence, l.rtpPhase)] : []));
    const gaps = r.legs.reduce((a, l) => a + l.toneGaps, 0);
    const col = <K extends 'total' | 'wait' | 'ticks' | 'after'>(xs: { [k in K]: number }[], k: K): number[] => xs.map((x) => x[k]);
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / (xs.length || 1);
    const missed = col(outS, 'ticks').filter((t) => t > 0).length;
    t1.push(`| ${level} | ${inS.length}/${inSent} | ${f(percentile(col(inS, 'total'), 50))} | ${f(percentile(col(inS, 'total'), 99))} | ${f(Math.max(...col(inS, 'total')))} | ${f(percentile(col(inS, 'wait'), 50))} | ${mean(col(inS, 'ticks')).toFixed(2)} | ${f(percentile(col(inS, 'after'), 50))} | ${f(percentile(col(inS, 'after'), 99))} | ${f(Math.max(...col(inS, 'after')))} |`);
    t2.push(`| ${level} | ${outS.length}/${outSent} | ${f(percentile(col(outS, 'total'), 50))} | ${f(percentile(col(outS, 'total'), 99))} | ${f(Math.max(...col(outS, 'total')))} | ${f(percentile(col(outS, 'wait'), 50))} | ${missed} | ${f(percentile(col(outS, 'after'), 50))} | ${f(percentile(col(outS, 'after'), 99))} | ${f(Math.max(...col(outS, 'after')))} |`);
    t3.push(`| ${level} | ${clr.length}/${r.answered} | ${f(percentile(col(clr, 'total'), 50))} | ${f(percentile(col(clr, 'total'), 99))} | ${f(Math.max(...col(clr, 'total')))} | ${clr.filter((c) => c.total <= TICK).length} | ${f(percentile(col(clr, 'after'), 50))} | ${f(percentile(col(clr, 'after'), 99))} | ${gaps} |`);
    t4.push(`| ${level} | ${r.windowS.toFixed(0)} s | ${r.cpuPct.toFixed(0)} % | ${f(r.loopP99)} | ${r.lateTicks} | ${r.skipped} |`);
    const stats = (xs: number[]): Record<string, number> => ({ n: xs.length, p50: percentile(xs, 50), p99: percentile(xs, 99), max: Math.max(...xs) });
    summary.push({
      calls: level, answered: r.answered, windowS: r.windowS, patchbayCpuPct: r.cpuPct, benchLoopDelayP99Ms: r.loopP99, lateTicks: r.lateTicks, skippedTicks: r.skipped,
      rtpToWs: { sent: inSent, total: stats(col(inS, 'total')), tickWait: stats(col(inS, 'wait')), jitterTicksMean: mean(col(inS, 'ticks')), afterTick: stats(col(inS, 'after')) },
      wsToRtp: { sent: outSent, total: stats(col(outS, 'total')), tickWait: stats(col(outS, 'wait')), missedTick: missed, afterTick: stats(col(outS, 'after')) },
      clearToSilence: { total: stats(col(clr, 'total')), afterTick: stats(col(clr, 'after')), toneGaps: gaps },
    });
  }

  console.log(`\nMedia Streams latency (${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version}, ${new Date().toISOString().slice(0, 10)}). Times in ms.\n`);
  console.log('RTP packet in → WebSocket `media` frame out (caller sends → app receives)\n');
  console.log('| calls | frames matched | p50 | p99 | max | wait for tick p50 | jitter-buffer ticks (mean) | after the tick p50 | p99 | max |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of t1) console.log(r);
  console.log('\nWebSocket `media` frame in → RTP packet out (app sends → caller receives)\n');
  console.log('| calls | frames matched | p50 | p99 | max | wait for tick p50 | frames that missed the next tick | after the tick p50 | p99 | max |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of t2) console.log(r);
  console.log('\n`clear` → first silent RTP packet at the caller (10 s of tone queued, cleared after 1 s)\n');
  console.log('| calls | cleared | p50 | p99 | max | within 20 ms | after the tick p50 | p99 | tone gaps before clear |');
  console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of t3) console.log(r);
  console.log('\nConditions during the measuring windows\n');
  console.log('| calls | window | Patchbay CPU | bench event-loop delay p99 | media-clock late ticks (>5 ms) | skipped ticks |');
  console.log('|---:|---:|---:|---:|---:|---:|');
  for (const r of t4) console.log(r);

  const outDir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `media-streams-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: cpus().length, levels: summary }, null, 2));
  console.log(`\nresults: ${file}`);

  for (const c of clocks) c.stop();
  wss.close();
  await stack.stop();
  pb.proc.kill('SIGTERM');
  await pb.exited;
  await app.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
