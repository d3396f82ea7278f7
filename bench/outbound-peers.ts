/**
 * The far ends of the outbound-call benchmark (bench/outbound-calls.ts), all on loopback:
 *  - StatusCallbacks: an HTTP server taking Patchbay's status callbacks and timestamping each on
 *    the benchmark's monotonic clock (performance.now), so create → answered is exact to the
 *    callback's arrival;
 *  - startUdpDrain: a separate process with one UDP socket that reads and discards the RTP
 *    Patchbay sends the callees (kept out of the benchmark's event loop);
 *  - startSippUas: SIPp as the callee (bench/scenarios/uas-answer-then-bye.xml: answers at once, hangs up itself
 *    after `-d` ms), with its statistics and error log read back when it exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';

/** What the callbacks told us about one call; times are performance.now() at arrival. */
export interface CallTimes {
  initiatedAt?: number;
  answeredAt?: number;
  endedAt?: number;
  /** CallStatus of the terminal callback: completed, busy, failed, no-answer, canceled. */
  finalStatus?: string;
  sipResponseCode?: string;
  errorCode?: string;
}

const TERMINAL = new Set(['completed', 'busy', 'failed', 'no-answer', 'canceled']);

export class StatusCallbacks {
  readonly calls = new Map<string, CallTimes>();
  /** Callbacks whose CallStatus was none we expected (should stay 0). */
  unexpected = 0;
  private server: Server | null = null;
  private port = 0;

  get url(): string {
    return `http://127.0.0.1:${this.port}/status`;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const at = performance.now();
        const p = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        this.record(p.get('CallSid') ?? '', p, at);
        res.writeHead(204).end();
      });
    });
    // Patchbay keeps connections alive; allow many in parallel (its sender runs up to 64 at once).
    this.server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  private record(sid: string, p: URLSearchParams, at: number): void {
    let t = this.calls.get(sid);
    if (!t) this.calls.set(sid, (t = {}));
    const status = p.get('CallStatus') ?? '';
    if (status === 'initiated') t.initiatedAt = at;
    else if (status === 'in-progress') t.answeredAt = at;
    else if (status === 'ringing') return;
    else if (TERMINAL.has(status)) {
      t.endedAt = at;
      t.finalStatus = status;
      t.sipResponseCode = p.get('SipResponseCode') ?? undefined;
      t.errorCode = p.get('ErrorCode') ?? undefined;
    } else this.unexpected++;
  }

  get(sid: string): CallTimes {
    return this.calls.get(sid) ?? {};
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

export interface UdpDrain {
  port: number;
  stop(): void;
}

/** A child process bound to a UDP port on loopback that reads and drops every datagram. */
export async function startUdpDrain(): Promise<UdpDrain> {
  const code = `const s=require('node:dgram').createSocket('udp4');s.on('message',()=>{});s.bind(0,'127.0.0.1',()=>console.log(s.address().port));`;
  const proc = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    proc.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
    proc.once('exit', (c) => reject(new Error(`UDP drain exited (${c})`)));
  });
  return { port, stop: () => void proc.kill('SIGTERM') };
}

export interface SippUasResult {
  exitCode: number | null;
  successful: number;
  failed: number;
  /** Calls SIPp saw start (incoming INVITEs that opened a call). */
  created: number;
  /** INVITE retransmissions from Patchbay that arrived while SIPp waited for the ACK (absorbed by the scenario). */
  inviteRetransmissions: number;
  /** 200 OK sent → ACK received, per call (ms, SIPp's 1 ms resolution). */
  okToAck: number[];
  /** SIPp's error log events by kind (the text up to the Call-Id), with a count each. */
  errorKinds: Record<string, number>;
  /** The start of SIPp's error log (unexpected messages, retransmission timeouts). */
  errors: string;
}

export interface SippUas {
  port: number;
  pid: number;
  /** Resolves when SIPp has exited (after `calls` calls, a stop(), or its own timeout). */
  done: Promise<SippUasResult>;
  /** Asks SIPp to quit (SIGUSR1: no new calls, ends once the current ones have), killed 5 s later if still there. */
  stop(): void;
}

/** SIPp as the callee on `port`: takes `calls` calls, answers each, hangs up after `holdMs`. */
export function startSippUas(o: { port: number; calls: number; holdMs: number; sinkPort: number; timeoutSeconds: number }): SippUas {
  const dir = mkdtempSync(join(tmpdir(), 'bench-uas-'));
  const args = [
    '-sf', fileURLToPath(new URL('./scenarios/uas-answer-then-bye.xml', import.meta.url)),
    '-i', '127.0.0.1', '-p', String(o.port), '-mi', '127.0.0.1',
    '-m', String(o.calls), '-d', String(o.holdMs), '-key', 'sink_port', String(o.sinkPort),
    '-nostdin', '-timeout', `${o.timeoutSeconds}s`,
    '-trace_stat', '-stf', join(dir, 'stats.csv'), '-fd', '1', '-trace_counts', '-trace_rtt', '-rtt_freq', '1',
    '-trace_err', '-error_file', join(dir, 'errors.log'),
    '-max_recv_loops', '10000', '-max_sched_loops', '10000',
  ];
  const child: ChildProcess = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<SippUasResult>((resolve) => {
    child.on('close', (exitCode) => {
      const stats: Record<string, string> = {};
      try {
        const lines = readFileSync(join(dir, 'stats.csv'), 'utf8').trim().split('\n');
        const header = lines[0]!.split(';');
        const last = lines[lines.length - 1]!.split(';');
        header.forEach((h, i) => (stats[h] = last[i] ?? ''));
      } catch {
        stats.note = 'no statistics file';
      }
      // Per-message counters: the second INVITE receive step is the optional one (a retransmission).
      let inviteRetransmissions = 0;
      const countsFile = readdirSync(dir).find((f) => f.endsWith('_counts.csv'));
      if (countsFile) {
        const lines = readFileSync(join(dir, countsFile), 'utf8').trim().split('\n');
        const header = lines[0]!.split(';');
        const last = lines[lines.length - 1]!.split(';');
        const cols = header.map((h, i) => (/^\d+_INVITE_Recv$/.test(h) ? i : -1)).filter((i) => i >= 0);
        if (cols.length > 1) inviteRetransmissions = Number(last[cols[1]!] ?? 0);
      }
      const okToAck: number[] = [];
      const rttFile = readdirSync(dir).find((f) => f.endsWith('_rtt.csv'));
      if (rttFile) {
        for (const line of readFileSync(join(dir, rttFile), 'utf8').trim().split('\n').slice(1)) {
          const v = Number(line.split(';')[1]);
          if (Number.isFinite(v)) okToAck.push(v);
        }
      }
      const errFile = readdirSync(dir).find((f) => f.includes('errors'));
      const errors = (errFile ? readFileSync(join(dir, errFile), 'utf8') : '') + stderr;
      // Each event starts with a date, a time and a Unix time, then what happened, then the Call-Id.
      const errorKinds: Record<string, number> = {};
      for (const m of errors.matchAll(/\d+\.\d+: ([^'\n]*?)(?: for Call-Id '|Call-Id|\n|$)/g)) {
        const kind = m[1]!.replace(/[0-9a-f]{16,}@\S+/g, '…').trim();
        errorKinds[kind] = (errorKinds[kind] ?? 0) + 1;
      }
      rmSync(dir, { recursive: true, force: true });
      resolve({
        exitCode,
        successful: Number(stats['SuccessfulCall(C)'] ?? 0),
        failed: Number(stats['FailedCall(C)'] ?? 0),
        created: Number(stats['TotalCallCreated'] ?? 0),
        inviteRetransmissions,
        okToAck,
        errorKinds,
        errors: errors.slice(0, 3000),
      });
    });
  });
  const stop = (): void => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGUSR1');
    setTimeout(() => child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'), 5000).unref();
  };
  return { port: o.port, pid: child.pid!, done, stop };
}
