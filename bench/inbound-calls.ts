/**
 * Inbound-call benchmark (not a test): SIPp callers against a real Patchbay process whose app answers
 * <Play> of a 2 s file then hangs up.
 *  1. call rate: steps up the rate; each step runs STEP seconds; a step passes with 0 failed calls.
 *     Reports INVITE→200 p50/p99 (SIPp rtd), Patchbay CPU and RSS.
 *  2. concurrency with media: N calls held open while Patchbay plays audio to an RTP sink that
 *     timestamps packets in the kernel; reports the p99 deviation from the 20 ms cadence, and CPU and
 *     memory per concurrent call.
 * Usage: npm run bench [-- --quick] [--rates 50,100,200 | --no-rates] [--concurrency 250,500,1000 | --no-concurrency]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppServer, twiml } from '../test/interop/harness/app-server.js';
import { spawnPatchbay, freePort, type ChildPatchbay } from '../test/interop/harness/child-patchbay.js';
import { SCENARIOS } from '../test/interop/harness/sipp.js';
import { encodeWav } from '../src/media/wav.js';

/** Every bench call lands on the one default account: its inbound limits (50 calls/s, 500 live) would cap the bench, not Patchbay. */
const NO_ACCOUNT_LIMITS = { PATCHBAY_ACCOUNT_INBOUND_CPS: '0', PATCHBAY_ACCOUNT_INBOUND_MAX_CALLS: '0' };

const HERE = fileURLToPath(new URL('.', import.meta.url));
const args = process.argv.slice(2);
const quick = args.includes('--quick');
const listArg = (name: string, dflt: number[]): number[] => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]!.split(',').map(Number) : dflt;
};
const STEP_SECONDS = quick ? 15 : 60;
const RATES = args.includes('--no-rates') ? [] : listArg('--rates', [50, 100, 150, 200, 250, 300]);
const CONCURRENCY = args.includes('--no-concurrency') ? [] : listArg('--concurrency', [250, 500, 1000, 1500]);
const HOLD_SECONDS = quick ? 15 : 30;
/** --plateau-only: measure the RTP cadence only once every call is up (no set-up work meanwhile). */
const PLATEAU_ONLY = args.includes('--plateau-only');

function twoSecondClip(): Buffer {
  // A 2 s speech-band signal (three tones with an envelope) at 8 kHz: realistic G.711 work, no decoding surprises.
  const pcm = new Int16Array(16000);
  for (let i = 0; i < pcm.length; i++) {
    const t = i / 8000;
    const env = 0.5 + 0.5 * Math.sin(2 * Math.PI * 3 * t);
    pcm[i] = Math.round(8000 * env * (Math.sin(2 * Math.PI * 300 * t) + Math.sin(2 * Math.PI * 850 * t) + 0.5 * Math.sin(2 * Math.PI * 2200 * t)));
  }
  return encodeWav(pcm, 8000);
}

function procStat(pid: number): { cpuTicks: number; rssBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const cpuTicks = Number(fields[11]) + Number(fields[12]); // utime + stime
  const rssPages = Number(fields[21]);
  return { cpuTicks, rssBytes: rssPages * 4096 };
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

interface SippRun {
  successful: number;
  failed: number;
  rtts: number[];
}

async function sipp(pb: ChildPatchbay, scenario: string, extra: string[]): Promise<SippRun> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-sipp-'));
  const child = spawn('sipp', [`127.0.0.1:${pb.sipPort}`, '-sf', join(SCENARIOS, scenario), '-i', '127.0.0.1', '-p', '0', '-mi', '127.0.0.1', '-nostdin', '-trace_stat', '-fd', '1', '-trace_rtt', '-rtt_freq', '1', '-max_recv_loops', '10000', '-max_sched_loops', '10000', ...extra], { cwd: dir, stdio: 'ignore' });
  await new Promise((resolve) => child.on('close', resolve));
  const files = readdirSync(dir);
  const statFile = files.find((f) => f.endsWith('_.csv') || (f.endsWith('.csv') && !f.includes('rtt')));
  const rttFile = files.find((f) => f.includes('rtt'));
  let successful = 0;
  let failed = 0;
  if (statFile) {
    const lines = readFileSync(join(dir, statFile), 'utf8').trim().split('\n');
    const header = lines[0]!.split(';');
    const last = lines[lines.length - 1]!.split(';');
    successful = Number(last[header.indexOf('SuccessfulCall(C)')]);
    failed = Number(last[header.indexOf('FailedCall(C)')]);
  }
  const rtts: number[] = [];
  if (rttFile) {
    for (const line of readFileSync(join(dir, rttFile), 'utf8').trim().split('\n').slice(1)) {
      const v = Number(line.split(';')[1]);
      if (Number.isFinite(v)) rtts.push(v);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  return { successful, failed, rtts: rtts.sort((a, b) => a - b) };
}

async function rateStep(pb: ChildPatchbay, rate: number): Promise<Record<string, string | number>> {
  const pid = pb.proc.pid!;
  const before = procStat(pid);
  const t0 = Date.now();
  let peakRss = before.rssBytes;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, procStat(pid).rssBytes)), 500);
  const r = await sipp(pb, 'uac-app-hangs-up.xml', ['-r', String(rate), '-m', String(rate * STEP_SECONDS), '-l', String(rate * 20), '-timeout', `${STEP_SECONDS + 60}s`]);
  clearInterval(sampler);
  const after = procStat(pid);
  const cpu = ((after.cpuTicks - before.cpuTicks) / 100 / ((Date.now() - t0) / 1000)) * 100;
  return { rate, calls: r.successful + r.failed, failed: r.failed, p50: percentile(r.rtts, 0.5), p99: percentile(r.rtts, 0.99), cpu: `${cpu.toFixed(0)}%`, rssMB: (peakRss / 1048576).toFixed(0) };
}

async function concurrencyStep(pb: ChildPatchbay, sinkBin: string, n: number): Promise<Record<string, string | number>> {
  const pid = pb.proc.pid!;
  const idle = procStat(pid);
  const sinkPort = await freePort();
  const rampRate = 100;
  const ramp = Math.ceil(n / rampRate);
  // The sink ignores each stream's first packets: 0.5 s by default, or the whole ramp with --plateau-only.
  const skipPackets = PLATEAU_ONLY ? (ramp + 2) * 50 : 25;
  const sink = spawn(sinkBin, [String(sinkPort), String(ramp + HOLD_SECONDS + 5), String(skipPackets)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let sinkOut = '';
  sink.stdout.on('data', (d: Buffer) => (sinkOut += d.toString()));
  // Listen for the end now: the sink may finish before SIPp does.
  const sinkDone = new Promise((resolve) => sink.on('close', resolve));
  const run = sipp(pb, 'uac-media-hold.xml', ['-key', 'rtp_sink_port', String(sinkPort), '-r', String(rampRate), '-m', String(n), '-l', String(n), '-d', String((HOLD_SECONDS + ramp) * 1000), '-timeout', `${ramp + HOLD_SECONDS + 90}s`]);
  // Measure CPU and memory on the plateau: every call up, audio flowing.
  await new Promise((r) => setTimeout(r, (ramp + 3) * 1000));
  const a = procStat(pid);
  const ta = Date.now();
  await new Promise((r) => setTimeout(r, Math.max(3, HOLD_SECONDS - 6) * 1000));
  const b = procStat(pid);
  const cpu = ((b.cpuTicks - a.cpuTicks) / 100 / ((Date.now() - ta) / 1000)) * 100;
  const r = await run;
  await sinkDone;
  const cadence = JSON.parse(sinkOut.trim() || '{}') as Record<string, number>;
  return {
    calls: n,
    failed: r.failed,
    cpu: `${cpu.toFixed(0)}%`,
    cpuPerCallPct: (cpu / n).toFixed(3),
    rssMB: (b.rssBytes / 1048576).toFixed(0),
    kBPerCall: ((b.rssBytes - idle.rssBytes) / 1024 / n).toFixed(0),
    rtpStreams: cadence.streams ?? 0,
    devP50ms: cadence.p50 ?? NaN,
    devP99ms: cadence.p99 ?? NaN,
    devMaxMs: cadence.max ?? NaN,
  };
}

async function main(): Promise<void> {
  const build = join(HERE, '.build');
  mkdirSync(build, { recursive: true });
  const sinkBin = join(build, 'rtp-sink');
  const cc = spawnSync('gcc', ['-O2', '-o', sinkBin, join(HERE, 'rtp-sink.c')], { stdio: 'inherit' });
  if (cc.status !== 0) throw new Error('could not compile bench/rtp-sink.c (needs gcc)');

  const app = await new AppServer().start();
  const clip = twoSecondClip();
  app.route('/clip.wav', (_r, res) => void res.writeHead(200, { 'content-type': 'audio/wav' }).end(clip));
  app.route('/play', twiml('<Response><Play>clip.wav</Play><Hangup/></Response>'));
  app.route('/hold', twiml('<Response><Play loop="0">clip.wav</Play></Response>'));
  const dataDir = mkdtempSync(join(tmpdir(), 'patchbay-bench-'));
  const pb = await spawnPatchbay(dataDir, { PATCHBAY_VOICE_URL: app.url('/play'), PATCHBAY_LOG_LEVEL: 'warn', PATCHBAY_MAX_CALLS: '5000', ...NO_ACCOUNT_LIMITS, PATCHBAY_RTP_PORTS: '20000-39999' });

  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
  console.log(`Patchbay inbound-call benchmark — ${new Date().toISOString()} — ${machine}`);
  console.log(`\n1. Call rate (<Play> 2 s then hang-up), ${STEP_SECONDS} s per step`);
  const rateRows: Record<string, string | number>[] = [];
  for (const rate of RATES) {
    const row = await rateStep(pb, rate);
    rateRows.push(row);
    console.table([row]);
    if (Number(row.failed) > 0) break;
    await new Promise((r) => setTimeout(r, 5000));
  }

  pb.proc.kill('SIGTERM');
  await pb.exited;
  const pb2 = await spawnPatchbay(dataDir, { PATCHBAY_VOICE_URL: app.url('/hold'), PATCHBAY_LOG_LEVEL: 'warn', PATCHBAY_MAX_CALLS: '5000', ...NO_ACCOUNT_LIMITS, PATCHBAY_RTP_PORTS: '20000-39999' });
  console.log(`\n2. Concurrent calls with media (held ${HOLD_SECONDS} s), outgoing RTP cadence measured by a kernel-timestamping sink`);
  const concRows: Record<string, string | number>[] = [];
  for (const n of CONCURRENCY) {
    const row = await concurrencyStep(pb2, sinkBin, n);
    concRows.push(row);
    console.table([row]);
    await new Promise((r) => setTimeout(r, 5000));
  }
  pb2.proc.kill('SIGTERM');
  await pb2.exited;
  await app.stop();
  rmSync(dataDir, { recursive: true, force: true });

  console.log('\nSummary');
  console.table(rateRows);
  console.table(concRows);
  const out = join(HERE, 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, `inbound-calls-${Date.now()}.json`), JSON.stringify({ date: new Date().toISOString(), machine, stepSeconds: STEP_SECONDS, rateRows, concRows }, null, 2));
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
