/**
 * SIPp as a long-running background caller that writes down, per call, what it saw: the
 * `uac-logged-*` scenarios log "answered <Call-ID>" and "ended <Call-ID>" lines, which SIPp
 * flushes as it goes, so the file can be read while SIPp runs and after it is killed. Crash tests
 * compare these with the records Patchbay kept; the soak reads SIPp's periodic statistics.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SCENARIOS } from './sipp.js';

export interface LoggedSippOptions {
  /** File name in test/interop/scenarios. */
  scenario: string;
  /** Replacements of `@NAME@` placeholders in the scenario (for instance PCAP, HOLD_MS). */
  vars?: Record<string, string>;
  target: string;
  /** The called user (-s): apps can tell call kinds apart by it. */
  service: string;
  /** New calls per second (-r, per second; fractional rates are given per minute). */
  rate: number;
  /** Stop after this many calls (-m). */
  calls: number;
  /** RTP port for this SIPp (several SIPp on one host must not share one). */
  mediaPort: number;
  /** Statistics line every this many seconds (-fd). */
  statsEverySeconds?: number;
}

export interface CallIdLog {
  answered: Set<string>;
  ended: Set<string>;
}

export interface SippStats {
  successful: number;
  failed: number;
  /** Calls SIPp currently has open. */
  current: number;
}

/** The scenario with its placeholders replaced, written to a temporary file; returns its path. */
export function materializeScenario(name: string, vars: Record<string, string>): string {
  let text = readFileSync(join(SCENARIOS, name), 'utf8');
  for (const [k, v] of Object.entries(vars)) text = text.replaceAll(`@${k}@`, v);
  const left = /@[A-Z_]+@/.exec(text);
  if (left) throw new Error(`scenario ${name}: no value for ${left[0]}`);
  const path = join(mkdtempSync(join(tmpdir(), 'sipp-scenario-')), name);
  writeFileSync(path, text);
  return path;
}

export class LoggedSipp {
  readonly exited: Promise<number | null>;
  private output = '';

  private constructor(
    readonly proc: ChildProcess,
    readonly dir: string,
  ) {
    proc.stdout!.on('data', (d: Buffer) => (this.output = (this.output + d.toString()).slice(-4000)));
    proc.stderr!.on('data', (d: Buffer) => (this.output = (this.output + d.toString()).slice(-4000)));
    this.exited = new Promise((resolve) => proc.on('exit', (code) => resolve(code)));
  }

  static start(opts: LoggedSippOptions): LoggedSipp {
    const dir = mkdtempSync(join(tmpdir(), 'logged-sipp-'));
    const scenario = opts.vars ? materializeScenario(opts.scenario, opts.vars) : join(SCENARIOS, opts.scenario);
    // A rate below 1/s is given per minute (-rp 60000), since -r takes whole calls.
    const rate = Number.isInteger(opts.rate) ? ['-r', String(opts.rate)] : ['-r', String(Math.round(opts.rate * 60)), '-rp', '60000'];
    const args = [
      opts.target, '-sf', scenario, '-s', opts.service,
      '-i', '127.0.0.1', '-p', '0', '-mi', '127.0.0.1', '-mp', String(opts.mediaPort),
      '-m', String(opts.calls), ...rate, '-l', '100000', '-nostdin',
      '-trace_logs', '-log_file', join(dir, 'calls.log'),
      '-trace_stat', '-stf', join(dir, 'stats.csv'), '-fd', String(opts.statsEverySeconds ?? 10),
      '-trace_err', '-error_file', join(dir, 'errors.log'),
    ];
    return new LoggedSipp(spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] }), dir);
  }

  /** What the log says so far (complete lines only). */
  calls(): CallIdLog {
    const log: CallIdLog = { answered: new Set(), ended: new Set() };
    const file = join(this.dir, 'calls.log');
    if (!existsSync(file)) return log;
    const text = readFileSync(file, 'utf8');
    for (const line of text.slice(0, text.lastIndexOf('\n') + 1).split('\n')) {
      const [what, callId] = line.trim().split(' ');
      if (!callId) continue;
      if (what === 'answered') log.answered.add(callId);
      else if (what === 'ended') log.ended.add(callId);
    }
    return log;
  }

  /** SIPp's last statistics line (written every statsEverySeconds and at exit). */
  stats(): SippStats {
    const file = join(this.dir, 'stats.csv');
    if (!existsSync(file)) return { successful: 0, failed: 0, current: 0 };
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    const header = lines[0]!.split(';');
    const last = lines[lines.length - 1]!.split(';');
    const field = (name: string): number => Number(last[header.indexOf(name)] ?? 0);
    return { successful: field('SuccessfulCall(C)'), failed: field('FailedCall(C)'), current: field('CurrentCall') };
  }

  /** SIPp's error file and its last output, for failure messages. */
  diagnostics(): string {
    const err = readdirSync(this.dir).find((f) => f.startsWith('errors'));
    return `${err ? readFileSync(join(this.dir, err), 'utf8').slice(-3000) : ''}\n${this.output}`;
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) this.proc.kill(signal);
    await this.exited;
  }

  dispose(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}
