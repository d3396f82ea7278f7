/**
 * Outbound call set-up benchmark (not a test; issue 5): calls created through the Twilio-compatible
 * REST API (`POST /2010-04-01/Accounts/{AC}/Calls.json`, inline `<Pause>` TwiML) to a SIPp callee
 * that answers at once and hangs up after 2 s.
 *  1. Steps the offered rate (open loop: creates are sent on a fixed schedule, whatever the API's
 *     latency). Per step: calls created, completed, failed, the achieved answer rate, API create
 *     latency, list latency (`GET Calls.json?PageSize=50`, polled concurrently), create → answered
 *     (a status callback with StatusCallbackEvent=answered to a loopback server here), Patchbay CPU.
 *     Stops at the first step with a failure or whose answer rate falls behind the offered rate.
 *     The account limits (PATCHBAY_ACCOUNT_CPS / _MAX_CALLS) are set far above the offered load, so
 *     they are not what is measured.
 *  2. The queue when the limit IS hit: a short burst above a low PATCHBAY_ACCOUNT_CPS; calls wait
 *     `queued` (seen in the list), start 1/cps apart, and none fail.
 * Patchbay runs as a child process (its own event loop); SIPp, a UDP drain for the callee's RTP and
 * this process share the machine. Everything on loopback; bounded; stops by itself.
 * Usage: node --import tsx bench/outbound-calls.ts [--rates 5,10,20,40,80,160,240,320] [--step 15] [--hold-ms 2000]
 *        [--list-rate 2] [--queue-cps 5] [--queue-rate 20] [--queue-seconds 3] [--no-queue]
 */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { spawnPatchbay, freePort, type ChildPatchbay } from '../test/interop/harness/child-patchbay.js';
import { TEST_ACCOUNT_SID, TEST_AUTH_TOKEN } from '../test/interop/harness/patchbay.js';
import { StatusCallbacks, startSippUas, startUdpDrain, type SippUas, type UdpDrain } from './outbound-peers.js';

const args = process.argv.slice(2);
const arg = (name: string, dflt: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1]! : dflt;
};
const RATES = arg('--rates', '5,10,20,40,80,160,240,320').split(',').map(Number);
const STEP_S = Number(arg('--step', '15'));
const HOLD_MS = Number(arg('--hold-ms', '2000'));
const LIST_RATE = Number(arg('--list-rate', '2'));
const QUEUE_CPS = Number(arg('--queue-cps', '5'));
const QUEUE_RATE = Number(arg('--queue-rate', '20'));
const QUEUE_S = Number(arg('--queue-seconds', '3'));
const RUN_QUEUE = !args.includes('--no-queue');
/** Account limits for part 1: far above anything offered, so the engine, not the queue, is measured. */
const HIGH_CPS = 10_000;
const HIGH_MAX_CALLS = 10_000;
/** The app's document: silence longer than the callee holds, so the callee's BYE ends every call. */
const TWIML = '<Response><Pause length="60"/></Response>';

const AUTH = 'Basic ' + Buffer.from(`${TEST_ACCOUNT_SID}:${TEST_AUTH_TOKEN}`).toString('base64');
const BASE = `/2010-04-01/Accounts/${TEST_ACCOUNT_SID}`;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
}
const ms = (x: number): string => (Number.isFinite(x) ? x.toFixed(x < 10 ? 1 : 0) : '-');

function procStat(pid: number): { cpuTicks: number; rssBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { cpuTicks: Number(f[11]) + Number(f[12]), rssBytes: Number(f[21]) * 4096 };
}

/** CPU ticks (1/100 s) of each thread of a process, by thread id. */
function threadTicks(pid: number): Map<number, { ticks: number; name: string }> {
  const out = new Map<number, { ticks: number; name: string }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), { ticks: Number(f[11]) + Number(f[12]), name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) });
    } catch {
      // the thread ended between readdir and read
    }
  }
  return out;
}

/**
 * CPU % over a window: the main thread, and the other threads, busiest first. Threads are not named
 * (all "node"); one thread far above the rest is a single-threaded worker: with a `<Pause>`
 * document nothing speaks, so that is the PGlite store worker, not eSpeak. V8's helper threads
 * and libuv's pool spread their work over several threads.
 */
function threadCpu(pid: number, before: ReturnType<typeof threadTicks>, seconds: number): { main: string; others: string } {
  const after = threadTicks(pid);
  const others: number[] = [];
  let main = 0;
  for (const [tid, a] of after) {
    const pct = ((a.ticks - (before.get(tid)?.ticks ?? 0)) / 100 / seconds) * 100;
    if (tid === pid) main = pct;
    else others.push(pct);
  }
  others.sort((a, b) => b - a);
  return { main: `${main.toFixed(0)}%`, others: others.slice(0, 3).map((p) => p.toFixed(0)).join('/') + '%' };
}

interface Created {
  sid: string | null;
  sentAt: number;
  ms: number;
  httpStatus: number;
  /** The `status` in the 201 body (Twilio: `queued`). */
  status: string;
  error: string | null;
}

async function createCall(pb: ChildPatchbay, uasPort: number, cb: StatusCallbacks, events: string[]): Promise<Created> {
  const form = new URLSearchParams({ To: `sip:callee@127.0.0.1:${uasPort}`, From: 'bench', Twiml: TWIML, Timeout: '15', StatusCallback: cb.url });
  for (const e of events) form.append('StatusCallbackEvent', e);
  const sentAt = performance.now();
  try {
    const res = await fetch(`http://127.0.0.1:${pb.httpPort}${BASE}/Calls.json`, { method: 'POST', headers: { authorization: AUTH, 'content-type': 'application/x-www-form-urlencoded' }, body: form });
    const text = await res.text();
    const took = performance.now() - sentAt;
    if (res.status !== 201) return { sid: null, sentAt, ms: took, httpStatus: res.status, status: '', error: text.slice(0, 300) };
    const body = JSON.parse(text) as { sid: string; status: string };
    return { sid: body.sid, sentAt, ms: took, httpStatus: 201, status: body.status, error: null };
  } catch (err) {
    return { sid: null, sentAt, ms: performance.now() - sentAt, httpStatus: 0, status: '', error: (err as Error).message };
  }
}

async function apiGet<T>(pb: ChildPatchbay, path: string): Promise<T> {
  const res = await fetch(`http://127.0.0.1:${pb.httpPort}${path}`, { headers: { authorization: AUTH } });
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${(await res.text()).slice(0, 300)}`);
  return (await res.json()) as T;
}

interface CallsPage {
  calls: { sid: string; status: string }[];
  next_page_uri: string | null;
}

/** Polls `GET Calls.json?PageSize=…` every 1/rate s until stopped; each page goes to `onPage`. */
function listPoller(pb: ChildPatchbay, rate: number, pageSize: number, onPage: (p: CallsPage) => void = () => undefined): { latencies: number[]; errors: string[]; stop(): Promise<void> } {
  const latencies: number[] = [];
  const errors: string[] = [];
  const inflight = new Set<Promise<void>>();
  const timer = setInterval(() => {
    const t = performance.now();
    const p = apiGet<CallsPage>(pb, `${BASE}/Calls.json?PageSize=${pageSize}`)
      .then((page) => {
        latencies.push(performance.now() - t);
        onPage(page);
      })
      .catch((err: unknown) => void errors.push((err as Error).message))
      .finally(() => inflight.delete(p));
    inflight.add(p);
  }, 1000 / rate);
  return { latencies, errors, stop: async () => { clearInterval(timer); await Promise.all([...inflight]); } };
}

/** Sends creates open-loop: the i-th at t0 + i/rate, whatever earlier ones are doing. */
async function offer(rate: number, count: number, create: () => Promise<Created>): Promise<Created[]> {
  const out: Promise<Created>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < count; i++) {
    const wait = t0 + (i * 1000) / rate - performance.now();
    if (wait > 0.5) await sleep(wait);
    out.push(create());
  }
  return Promise.all(out);
}

/** Waits until every created call has had its terminal callback, or the deadline. */
async function settle(cb: StatusCallbacks, created: Created[], deadlineMs: number): Promise<void> {
  const until = performance.now() + deadlineMs;
  while (performance.now() < until && created.some((c) => c.sid && cb.get(c.sid).endedAt === undefined)) await sleep(100);
}

/** The event timeline of a call (native API), to show why it failed. */
async function timeline(pb: ChildPatchbay, sid: string): Promise<string> {
  try {
    const rec = await apiGet<{ status: string; sipResponseCode: number | null; errorCode: number | null; errorMessage: string | null; endReason: string | null; events?: { type: string; at: string; detail?: Record<string, unknown> }[] }>(pb, `/v1/calls/${sid}`);
    const ev = (rec.events ?? []).map((e) => `${e.at} ${e.type} ${e.detail ? JSON.stringify(e.detail).slice(0, 200) : ''}`.trim());
    return `${sid}: status=${rec.status} sip=${rec.sipResponseCode} error=${rec.errorCode} ${rec.errorMessage ?? ''} endReason=${rec.endReason}\n    ${ev.join('\n    ')}`;
  } catch (err) {
    return `${sid}: ${(err as Error).message}`;
  }
}

type Row = Record<string, string | number>;

/** Gives SIPp half a second to bind; one that has already exited (bad scenario, port taken) stops the run. */
async function ready(uas: SippUas): Promise<void> {
  const early = await Promise.race([uas.done, sleep(500).then(() => null)]);
  if (early) throw new Error(`SIPp exited at start (code ${early.exitCode}):\n${early.errors}`);
}

async function rateStep(pb: ChildPatchbay, cb: StatusCallbacks, drain: UdpDrain, rate: number): Promise<{ row: Row; failures: string[]; behind: boolean }> {
  const n = Math.round(rate * STEP_S);
  const uas = startSippUas({ port: await freePort(), calls: n, holdMs: HOLD_MS, sinkPort: drain.port, timeoutSeconds: STEP_S + HOLD_MS / 1000 + 90 });
  await ready(uas);
  const pid = pb.proc.pid!;
  const before = procStat(pid);
  const threadsBefore = threadTicks(pid);
  const sippBefore = procStat(uas.pid);
  const benchBefore = process.cpuUsage();
  let peakRss = before.rssBytes;
  // SIPp exits by itself after its last call, so its CPU is read while it runs (last reading wins).
  let sippTicks = sippBefore.cpuTicks;
  const readSipp = (): void => {
    try {
      sippTicks = procStat(uas.pid).cpuTicks;
    } catch {
      // SIPp has exited: keep the last reading
    }
  };
  const rssTimer = setInterval(() => {
    peakRss = Math.max(peakRss, procStat(pid).rssBytes);
    readSipp();
  }, 500);
  const t0 = performance.now();
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const lists = listPoller(pb, LIST_RATE, 50);
  const created = await offer(rate, n, () => createCall(pb, uas.port, cb, ['answered', 'completed']));
  await lists.stop();
  // CPU is read over the offering window (steady load), not the wait for the last calls to end.
  const after = procStat(pid);
  const elapsedS = (performance.now() - t0) / 1000;
  const threads = threadCpu(pid, threadsBefore, elapsedS);
  readSipp();
  const sippCpu = ((sippTicks - sippBefore.cpuTicks) / 100 / elapsedS) * 100;
  const bench = process.cpuUsage(benchBefore);
  const benchCpu = ((bench.user + bench.system) / 1e6 / elapsedS) * 100;
  loop.disable();
  await settle(cb, created, HOLD_MS + 30_000);
  clearInterval(rssTimer);
  uas.stop();
  const sipp = await uas.done;

  const ok = created.filter((c) => c.sid);
  const times = ok.map((c) => ({ c, t: cb.get(c.sid!) }));
  const answered = times.filter((x) => x.t.answeredAt !== undefined).map((x) => x.t.answeredAt!).sort((a, b) => a - b);
  const completed = times.filter((x) => x.t.finalStatus === 'completed').length;
  const byStatus: Record<string, number> = {};
  for (const x of times) if (x.t.finalStatus !== 'completed') byStatus[x.t.finalStatus ?? 'no terminal callback'] = (byStatus[x.t.finalStatus ?? 'no terminal callback'] ?? 0) + 1;
  const createErrors = created.length - ok.length;
  const failed = created.length - completed;
  // The rate answers came in at, first to last: the set-up rate the engine sustained.
  const achieved = answered.length > 1 ? ((answered.length - 1) * 1000) / (answered[answered.length - 1]! - answered[0]!) : NaN;
  const toAnswer = times.filter((x) => x.t.answeredAt !== undefined).map((x) => x.t.answeredAt! - x.c.sentAt);
  const cpu = ((after.cpuTicks - before.cpuTicks) / 100 / elapsedS) * 100;
  const row: Row = {
    'offered/s': rate,
    created: ok.length,
    completed,
    failed,
    'answered/s': Number.isFinite(achieved) ? Number(achieved.toFixed(1)) : '-',
    'create p50': ms(percentile(created.map((c) => c.ms), 0.5)),
    'create p99': ms(percentile(created.map((c) => c.ms), 0.99)),
    'list p50': ms(percentile(lists.latencies, 0.5)),
    'list p99': ms(percentile(lists.latencies, 0.99)),
    lists: lists.latencies.length,
    '→answered p50': ms(percentile(toAnswer, 0.5)),
    '→answered p99': ms(percentile(toAnswer, 0.99)),
    // Twilio answers a create with `queued`; Patchbay shows the live state when the response is built.
    '201 not queued': ok.filter((c) => c.status !== 'queued').length,
    cpu: `${cpu.toFixed(0)}%`,
    'main thread': threads.main,
    'other threads (top 3)': threads.others,
    'sipp cpu': `${sippCpu.toFixed(0)}%`,
    'bench cpu': `${benchCpu.toFixed(0)}%`,
    // This process's own event-loop delay: when it is high too, the whole machine was short of CPU.
    'bench loop p99': ms(loop.percentile(99) / 1e6),
    '200→ACK p50': ms(percentile(sipp.okToAck, 0.5)),
    '200→ACK p99': ms(percentile(sipp.okToAck, 0.99)),
    'INVITE retrans': sipp.inviteRetransmissions,
    rssMB: (peakRss / 1048576).toFixed(0),
    'sipp ok/failed': `${sipp.successful}/${sipp.failed}`,
  };
  const failures: string[] = [];
  if (failed > 0 || sipp.failed > 0 || lists.errors.length > 0) {
    failures.push(`step ${rate}/s: ${createErrors} create errors, terminal statuses other than completed: ${JSON.stringify(byStatus)}; SIPp ${sipp.successful} ok / ${sipp.failed} failed / ${sipp.created} created`);
    for (const c of created.filter((x) => !x.sid).slice(0, 3)) failures.push(`  create HTTP ${c.httpStatus}: ${c.error}`);
    for (const e of lists.errors.slice(0, 3)) failures.push(`  list: ${e}`);
    if (sipp.errors.trim()) failures.push(`  SIPp error log, events by kind: ${JSON.stringify(sipp.errorKinds)}\n  first lines:\n${sipp.errors.trim().split('\n').slice(0, 20).join('\n')}`);
    for (const x of times.filter((y) => y.t.finalStatus !== 'completed').slice(0, 3)) failures.push(`  ${await timeline(pb, x.c.sid!)}`);
  }
  return { row, failures, behind: !(achieved >= 0.95 * rate) };
}

/** Counts the account's calls in the store with a status, following next_page_uri. */
async function countWithStatus(pb: ChildPatchbay, status: string): Promise<number> {
  let n = 0;
  let path: string | null = `${BASE}/Calls.json?Status=${status}&PageSize=1000`;
  while (path) {
    const page: CallsPage = await apiGet<CallsPage>(pb, path);
    n += page.calls.length;
    path = page.next_page_uri;
  }
  return n;
}

async function queueRun(cb: StatusCallbacks, drain: UdpDrain): Promise<{ row: Row; failures: string[] }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'pb-outbound-q-'));
  const pb = await spawnPatchbay(dataDir, { PATCHBAY_LOG_LEVEL: 'warn', PATCHBAY_ACCOUNT_CPS: String(QUEUE_CPS), PATCHBAY_RTP_PORTS: '40000-49999' });
  const n = Math.round(QUEUE_RATE * QUEUE_S);
  const uas = startSippUas({ port: await freePort(), calls: n, holdMs: HOLD_MS, sinkPort: drain.port, timeoutSeconds: n / QUEUE_CPS + 90 });
  await ready(uas);
  let maxQueued = 0;
  let maxLive = 0;
  const lists = listPoller(pb, 4, 1000, (page) => {
    maxQueued = Math.max(maxQueued, page.calls.filter((c) => c.status === 'queued').length);
    maxLive = Math.max(maxLive, page.calls.filter((c) => c.status === 'in-progress').length);
  });
  const created = await offer(QUEUE_RATE, n, () => createCall(pb, uas.port, cb, ['initiated', 'answered', 'completed']));
  await settle(cb, created, (n / QUEUE_CPS) * 1000 + HOLD_MS + 30_000);
  await lists.stop();
  uas.stop();
  const sipp = await uas.done;
  const times = created.filter((c) => c.sid).map((c) => ({ c, t: cb.get(c.sid!) }));
  const initiated = times.map((x) => x.t.initiatedAt).filter((t): t is number => t !== undefined).sort((a, b) => a - b);
  const gaps = initiated.slice(1).map((t, i) => t - initiated[i]!);
  const first = Math.min(...created.map((c) => c.sentAt));
  const lastAnswer = Math.max(...times.map((x) => x.t.answeredAt ?? -Infinity));
  const completed = times.filter((x) => x.t.finalStatus === 'completed').length;
  const row: Row = {
    'offered/s': QUEUE_RATE,
    'account cps': QUEUE_CPS,
    created: times.length,
    '201 status': [...new Set(created.map((c) => c.status || `HTTP ${c.httpStatus}`))].join(','),
    'max queued in list': maxQueued,
    'max in-progress in list': maxLive,
    'initiated gap p50': ms(percentile(gaps, 0.5)),
    'initiated gap min': ms(Math.min(...gaps)),
    'started/s': initiated.length > 1 ? Number((((initiated.length - 1) * 1000) / (initiated[initiated.length - 1]! - initiated[0]!)).toFixed(2)) : '-',
    'first create→last answer s': ((lastAnswer - first) / 1000).toFixed(1),
    completed,
    failed: created.length - completed,
    'create p99': ms(percentile(created.map((c) => c.ms), 0.99)),
    'sipp ok/failed': `${sipp.successful}/${sipp.failed}`,
  };
  const failures: string[] = [];
  for (const x of times.filter((y) => y.t.finalStatus !== 'completed').slice(0, 3)) failures.push(`queue run: ${await timeline(pb, x.c.sid!)}`);
  if (sipp.failed > 0) failures.push(`queue run SIPp errors:\n${sipp.errors}`);
  pb.proc.kill('SIGTERM');
  await pb.exited;
  rmSync(dataDir, { recursive: true, force: true });
  return { row, failures };
}

async function main(): Promise<void> {
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
  console.log(`Patchbay outbound-call benchmark — ${new Date().toISOString()} — ${machine}`);
  const cb = await new StatusCallbacks().start();
  const drain = await startUdpDrain();
  const dataDir = mkdtempSync(join(tmpdir(), 'pb-outbound-'));
  const pb = await spawnPatchbay(dataDir, {
    PATCHBAY_LOG_LEVEL: 'warn', PATCHBAY_ACCOUNT_CPS: String(HIGH_CPS), PATCHBAY_ACCOUNT_MAX_CALLS: String(HIGH_MAX_CALLS), PATCHBAY_MAX_CALLS: '10000', PATCHBAY_RTP_PORTS: '40000-49999',
  });
  console.log(`\n1. Set-up rate: callee answers at once, hangs up after ${HOLD_MS} ms; ${STEP_S} s per step; ${LIST_RATE} lists/s (PageSize=50) alongside.`);
  console.log(`   Account limits set out of the way: PATCHBAY_ACCOUNT_CPS=${HIGH_CPS}, PATCHBAY_ACCOUNT_MAX_CALLS=${HIGH_MAX_CALLS} (defaults 10 and 100).`);
  const rows: Row[] = [];
  const failures: string[] = [];
  let stopReason = 'all steps passed';
  for (const rate of RATES) {
    const r = await rateStep(pb, cb, drain, rate);
    rows.push(r.row);
    failures.push(...r.failures);
    console.table([r.row]);
    if (Number(r.row.failed) > 0 || r.failures.length > 0) {
      stopReason = `failures at ${rate}/s`;
      break;
    }
    if (r.behind) {
      stopReason = `answer rate fell behind the offered ${rate}/s`;
      break;
    }
    await sleep(2000);
  }
  const completedInCallbacks = rows.reduce((a, r) => a + Number(r.completed), 0);
  const completedInStore = await countWithStatus(pb, 'completed');
  pb.proc.kill('SIGTERM');
  await pb.exited;
  rmSync(dataDir, { recursive: true, force: true });

  let queue: { row: Row; failures: string[] } | null = null;
  if (RUN_QUEUE) {
    console.log(`\n2. Queue at the limit: PATCHBAY_ACCOUNT_CPS=${QUEUE_CPS}, ${QUEUE_RATE} creates/s for ${QUEUE_S} s`);
    queue = await queueRun(cb, drain);
    console.table([queue.row]);
    failures.push(...queue.failures);
  }
  drain.stop();
  await cb.stop();

  console.log(`\nSummary (${stopReason}; completed calls: ${completedInCallbacks} by status callback, ${completedInStore} in the store via GET Calls.json?Status=completed; unexpected callbacks: ${cb.unexpected})`);
  console.table(rows);
  if (failures.length) console.log(`\nFailures:\n${failures.join('\n')}`);
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `outbound-calls-${Date.now()}.json`);
  writeFileSync(file, `${JSON.stringify({ date: new Date().toISOString(), machine, stepSeconds: STEP_S, holdMs: HOLD_MS, stopReason, completedInCallbacks, completedInStore, rows, queue: queue?.row ?? null, failures }, null, 2)}\n`);
  console.log(`results: ${file}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
