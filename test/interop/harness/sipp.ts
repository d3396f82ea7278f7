/**
 * Runs SIPp (Debian sip-tester) against Patchbay on loopback and reports how its calls ended,
 * read from SIPp's own statistics file.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const SCENARIOS = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'scenarios');

export interface SippOptions {
  scenario: string; // file name in test/interop/scenarios, or an absolute path (generated scenarios)
  target: string; // host:port
  calls: number; // -m
  rate?: number; // calls per second (-r)
  concurrency?: number; // -l
  localPort?: number;
  timeoutSeconds?: number;
  extra?: string[];
  /** Passed as -key name value (scenario keywords). */
  keys?: Record<string, string>;
  /** Keep SIPp's message trace (every message sent and received) in the result. */
  traceMessages?: boolean;
}

export interface SippResult {
  exitCode: number | null;
  successful: number;
  failed: number;
  stdout: string;
  stderr: string;
  stats: Record<string, string>;
  errors: string;
  /** Each SIP message SIPp sent or received, when `traceMessages` was set. */
  messages: string[];
}

export async function runSipp(opts: SippOptions): Promise<SippResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sipp-'));
  const args = [
    opts.target,
    '-sf', isAbsolute(opts.scenario) ? opts.scenario : join(SCENARIOS, opts.scenario),
    '-i', '127.0.0.1',
    '-p', String(opts.localPort ?? 0),
    '-mi', '127.0.0.1',
    '-m', String(opts.calls),
    '-r', String(opts.rate ?? 10),
    '-l', String(opts.concurrency ?? 1000),
    '-nostdin',
    '-timeout', `${opts.timeoutSeconds ?? 60}s`,
    '-timeout_error',
    '-trace_stat', '-stf', join(dir, 'stats.csv'), '-fd', '1',
    '-trace_err', '-error_file', join(dir, 'errors.log'),
    ...Object.entries(opts.keys ?? {}).flatMap(([k, v]) => ['-key', k, v]),
    ...(opts.traceMessages ? ['-trace_msg', '-message_file', join(dir, 'messages.log')] : []),
    ...(opts.extra ?? []),
  ];
  const child = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exitCode = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  const stats: Record<string, string> = {};
  const files = readdirSync(dir);
  const csv = files.find((f) => f.endsWith('.csv'));
  if (csv) {
    const lines = readFileSync(join(dir, csv), 'utf8').trim().split('\n');
    const header = lines[0]!.split(';');
    const last = lines[lines.length - 1]!.split(';');
    header.forEach((h, i) => (stats[h] = last[i] ?? ''));
  }
  const errFile = files.find((f) => f.includes('errors'));
  const errors = errFile ? readFileSync(join(dir, errFile), 'utf8').slice(0, 4000) : '';
  const messages = opts.traceMessages
    ? readFileSync(join(dir, 'messages.log'), 'utf8')
        .split(/^-{20,}.*$/m)
        // Each entry starts with "UDP message sent (N bytes):" or "... received [N] bytes :".
        .map((m) => m.trim().replace(/^\w+ message (sent|received)[^\n]*\n/, '').trim())
        .filter((m) => m.length > 0)
    : [];
  rmSync(dir, { recursive: true, force: true });
  return {
    exitCode,
    successful: Number(stats['SuccessfulCall(C)'] ?? 0),
    failed: Number(stats['FailedCall(C)'] ?? 0),
    stdout,
    stderr,
    stats,
    errors,
    messages,
  };
}
