/**
 * Soak (not a test): Patchbay as a child process under a steady load of SIPp callers with media for
 * a long time, watching that nothing fails and nothing grows.
 *
 * Each call: the caller sends ~10 s of audio (RTP replayed from a capture) then hangs up; the app
 * answers <Say> (embedded TTS), <Play> of a 2 s WAV from the app server, then <Record> until the
 * hang-up, whose action request and status callbacks go back to the app. Every 10 s: Patchbay's RSS
 * (all threads, the store's worker included), its main-thread V8 heap (a probe preloaded with
 * --import writes process.memoryUsage() to a file), open file descriptors (/proc/<pid>/fd), live
 * calls (/metrics), calls done and failed (SIPp's statistics).
 *
 * Verdict: PASS when no call failed and memory and descriptors are flat. "Flat": while the load is
 * on, after a warm-up (the first fifth of the run, at least 30 s: caches, JIT, the store's buffers
 * filling; the samples after the last call was placed are not judged either), the mean of
 * the last third of the samples is within 10% of the first third's for RSS and heap, and within 10%
 * or 10 descriptors (whichever is larger; descriptors follow the live calls) for open fds. The RSS
 * slope over the same window is printed too (MB per minute), to read the trend rather than a ratio.
 *
 * Usage: npm run bench:soak [-- --minutes 10] [--rate 5] [--call-seconds 10]
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AppServer, twiml } from '../test/interop/harness/app-server.js';
import { freePort, spawnPatchbay } from '../test/interop/harness/child-patchbay.js';
import { LoggedSipp } from '../test/interop/harness/logged-sipp.js';
import { writeAudioPcap } from '../test/interop/harness/rtp-pcap.js';
import { encodeWav } from '../src/media/wav.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const args = process.argv.slice(2);
function numberArg(name: string, dflt: number): number {
  const i = args.indexOf(name);
  if (i < 0) return dflt;
  const v = Number(args[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} needs a positive number`);
  return v;
}
const MINUTES = numberArg('--minutes', 10);
const RATE = numberArg('--rate', 5);
const CALL_SECONDS = numberArg('--call-seconds', 10);
const SAMPLE_MS = 10_000;
const FLAT_PERCENT = 10;
const FD_SLACK = 10;

interface Sample {
  t: number;
  rssMB: number;
  heapMB: number;
  fds: number;
  live: number;
  done: number;
  failed: number;
}

/** A speech-band signal (tones under an envelope): real G.711 and VAD work, no decoding surprises. */
function signal(seconds: number, f1: number, f2: number): Int16Array {
  const pcm = new Int16Array(seconds * 8000);
  for (let i = 0; i < pcm.length; i++) {
    const t = i / 8000;
    const env = 0.5 + 0.5 * Math.sin(2 * Math.PI * 3 * t);
    pcm[i] = Math.round(7000 * env * (Math.sin(2 * Math.PI * f1 * t) + 0.6 * Math.sin(2 * Math.PI * f2 * t)));
  }
  return pcm;
}

function rssMB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function lastHeapMB(probeFile: string): number {
  const lines = readFileSync(probeFile, 'utf8').trim().split('\n');
  return (JSON.parse(lines[lines.length - 1]!) as { heapUsed: number }).heapUsed / 1048576;
}

async function liveCalls(httpPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const m = /^patchbay_calls_live\s+(\d+)/m.exec(text);
  return m ? Number(m[1]) : NaN;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** Least-squares slope of y over t (per second). */
function slope(samples: Sample[], y: (s: Sample) => number): number {
  const mt = mean(samples.map((s) => s.t));
  const my = mean(samples.map(y));
  let num = 0;
  let den = 0;
  for (const s of samples) {
    num += (s.t - mt) * (y(s) - my);
    den += (s.t - mt) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

interface Verdict {
  pass: boolean;
  lines: string[];
}

function judge(samples: Sample[], final: { done: number; failed: number }, expected: number): Verdict {
  const lines: string[] = [];
  let pass = true;
  const check = (ok: boolean, text: string): void => {
    pass &&= ok;
    lines.push(`${ok ? 'ok  ' : 'FAIL'} ${text}`);
  };
  check(final.failed === 0, `failed calls: ${final.failed}`);
  check(final.done === expected, `calls completed: ${final.done} of ${expected}`);
  const warmup = Math.max(30, (MINUTES * 60) / 5);
  // Only while the load is on: once SIPp stops placing calls, the live calls (and their memory) drain.
  const steady = samples.filter((s) => s.t >= warmup && s.t <= MINUTES * 60);
  const third = Math.max(1, Math.floor(steady.length / 3));
  if (steady.length < 3) {
    check(false, `too few samples after the ${warmup} s warm-up to judge (${steady.length})`);
    return { pass, lines };
  }
  const first = steady.slice(0, third);
  const last = steady.slice(-third);
  const flat = (name: string, y: (s: Sample) => number, slack = 0): void => {
    const a = mean(first.map(y));
    const b = mean(last.map(y));
    const limit = Math.max(a * (FLAT_PERCENT / 100), slack);
    check(b - a <= limit, `${name}: ${a.toFixed(1)} → ${b.toFixed(1)} (mean of the first vs the last third of the steady samples; allowed +${limit.toFixed(1)})`);
  };
  flat('RSS MB', (s) => s.rssMB);
  flat('heap MB', (s) => s.heapMB);
  flat('open fds', (s) => s.fds, FD_SLACK);
  lines.push(`     ${steady.length} steady samples (${steady[0]!.t}–${steady[steady.length - 1]!.t} s); after the load: RSS ${samples[samples.length - 1]!.rssMB.toFixed(1)} MB, fds ${samples[samples.length - 1]!.fds}`);
  lines.push(`     RSS slope while steady: ${(slope(steady, (s) => s.rssMB) * 60).toFixed(2)} MB/min; heap slope ${(slope(steady, (s) => s.heapMB) * 60).toFixed(2)} MB/min`);
  return { pass, lines };
}

async function main(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'patchbay-soak-'));
  const dataDir = join(work, 'data');
  const probeFile = join(work, 'memory.jsonl');
  // Preloaded into Patchbay: its own heap is only visible from inside.
  const probe = `import { appendFileSync } from 'node:fs'; setInterval(() => appendFileSync(${JSON.stringify(probeFile)}, JSON.stringify(process.memoryUsage()) + '\\n'), 2000).unref();`;

  const app = await new AppServer().start();
  const clip = encodeWav(signal(2, 330, 990), 8000);
  app.route('/clip.wav', (_r, res) => void res.writeHead(200, { 'content-type': 'audio/wav', 'cache-control': 'max-age=3600' }).end(clip));
  app.route('/voice', twiml('<Response><Say>Thank you for calling the soak test.</Say><Play>/clip.wav</Play><Record maxLength="60" timeout="0" playBeep="false" trim="do-not-trim" action="/recorded"/></Response>'));
  app.route('/recorded', twiml('<Response><Hangup/></Response>'));
  app.route('/status', twiml('<Response/>'));
  const pcap = writeAudioPcap(signal(CALL_SECONDS, 440, 1270)).path;

  const pb = await spawnPatchbay(
    dataDir,
    { PATCHBAY_VOICE_URL: app.url('/voice'), PATCHBAY_STATUS_CALLBACK: app.url('/status'), PATCHBAY_STATUS_CALLBACK_EVENT: 'initiated ringing answered completed', PATCHBAY_LOG_LEVEL: 'warn' },
    { nodeArgs: ['--import', `data:text/javascript,${encodeURIComponent(probe)}`] },
  );
  const pid = pb.proc.pid!;
  const expected = Math.round(RATE * MINUTES * 60);
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
  console.log(`Patchbay soak — ${new Date().toISOString()} — ${machine}`);
  console.log(`${MINUTES} min at ${RATE} calls/s (${expected} calls), each ~${CALL_SECONDS} s of caller audio: <Say>, <Play> 2 s, <Record> until the caller hangs up\n`);

  const sipp = LoggedSipp.start({
    scenario: 'uac-logged-caller-hangs-up.xml',
    vars: { PCAP: pcap, HOLD_MS: String(CALL_SECONDS * 1000) },
    target: `127.0.0.1:${pb.sipPort}`, service: 'soak', rate: RATE, calls: expected, mediaPort: await freePort(), statsEverySeconds: SAMPLE_MS / 1000,
  });
  const t0 = Date.now();
  const samples: Sample[] = [];
  const take = async (): Promise<Sample> => {
    const st = sipp.stats();
    const s: Sample = {
      t: Math.round((Date.now() - t0) / 1000),
      rssMB: rssMB(pid),
      heapMB: lastHeapMB(probeFile),
      fds: readdirSync(`/proc/${pid}/fd`).length,
      live: await liveCalls(pb.httpPort),
      done: st.successful,
      failed: st.failed,
    };
    samples.push(s);
    console.log(`${String(s.t).padStart(5)} s  rss ${s.rssMB.toFixed(1).padStart(6)} MB  heap ${s.heapMB.toFixed(1).padStart(6)} MB  fds ${String(s.fds).padStart(4)}  live ${String(s.live).padStart(4)}  done ${String(s.done).padStart(6)}  failed ${s.failed}`);
    return s;
  };
  const timer = setInterval(() => void take().catch((err: unknown) => console.error('sample failed:', (err as Error).message)), SAMPLE_MS);
  const code = await sipp.exited;
  clearInterval(timer);
  await new Promise((r) => setTimeout(r, 2000)); // let the last calls' records and callbacks settle
  await take();
  const finalStats = sipp.stats();
  const final = { done: finalStats.successful, failed: finalStats.failed };
  if (code !== 0 || final.failed > 0) console.log(`\nSIPp exit ${code}:\n${sipp.diagnostics()}`);
  sipp.dispose();

  pb.proc.kill('SIGTERM');
  const exit = await pb.exited;
  await app.stop();
  rmSync(work, { recursive: true, force: true });

  console.log('\nSamples');
  console.table(samples);
  const verdict = judge(samples, final, expected);
  console.log(`\nVerdict: ${verdict.pass ? 'PASS' : 'FAIL'}  (Patchbay exit code after SIGTERM: ${exit})`);
  for (const l of verdict.lines) console.log(`  ${l}`);
  const out = join(HERE, 'results');
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, `soak-${Date.now()}.json`), JSON.stringify({ date: new Date().toISOString(), machine, minutes: MINUTES, rate: RATE, callSeconds: CALL_SECONDS, final, verdict, samples }, null, 2));
  process.exitCode = verdict.pass ? 0 : 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
