/**
 * The long fuzz run: every target (or one) for N seconds each, then a table of iterations,
 * exec/s, findings and the slowest input. Findings print their reproducer coordinates, and with
 * `--out DIR` their inputs are written there as files.
 *
 *   node --import tsx bench/fuzz.ts [--seconds 120] [--target sdp] [--seed 1] [--out DIR]
 *   node --import tsx bench/fuzz.ts --target sdp --seed 1 --reproduce 12345
 *
 * A true infinite loop never returns to the timing code, so a watchdog thread watches the
 * iteration counter (shared memory) and, if it stops moving for 10 s, prints the coordinates and
 * kills the process.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ALL_TARGETS } from '../test/fuzz/targets.js';
import { reproduce, runFuzz, type Finding, type RunStats } from '../test/fuzz/runner.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const seconds = Number(arg('seconds') ?? 120);
const seed = Number(arg('seed') ?? 1);
const only = arg('target');
const outDir = arg('out');
const reproduceAt = arg('reproduce');

const targets = ALL_TARGETS.filter((t) => only === undefined || t.name === only);
if (targets.length === 0) {
  console.error(`unknown target ${only}; targets: ${ALL_TARGETS.map((t) => t.name).join(', ')}`);
  process.exit(2);
}

function show(f: Finding): string {
  const preview = JSON.stringify(f.input.toString('latin1').slice(0, 160));
  return `  ${f.kind} ${f.target} seed=${f.seed} iteration=${f.iteration} (${f.input.length} bytes, ${f.ms.toFixed(1)} ms): ${f.message}\n    input: ${preview}${f.input.length > 160 ? '…' : ''}`;
}

if (reproduceAt !== undefined) {
  const f = reproduce(targets[0]!, seed, Number(reproduceAt));
  console.log(f ? show(f) : 'passes');
  if (f && outDir) writeFileSync(join(outDir, `${f.target}-${f.seed}-${f.iteration}.bin`), f.input);
  process.exit(f ? 1 : 0);
}

// Watchdog: [0] = target index, [1] = iteration; the worker kills us if they stop changing.
const shared = new Int32Array(new SharedArrayBuffer(8));
const watchdog = new Worker(
  `const { workerData } = require('node:worker_threads'); const fs = require('node:fs');
   const s = new Int32Array(workerData.buf); let last = -1, lastTarget = -1, still = 0;
   setInterval(() => {
     const t = Atomics.load(s, 0), i = Atomics.load(s, 1);
     if (t === lastTarget && i === last) { if (++still >= 10) {
       fs.writeSync(2, 'HANG (no progress for 10 s): ' + workerData.names[t] + ' seed=' + workerData.seed + ' iteration=' + i + '\\n');
       process.kill(process.pid, 'SIGKILL'); } }
     else { still = 0; last = i; lastTarget = t; }
   }, 1000);`,
  { eval: true, workerData: { buf: shared.buffer, names: targets.map((t) => t.name), seed } },
);
watchdog.unref();

const results: RunStats[] = [];
targets.forEach((target, index) => {
  Atomics.store(shared, 0, index);
  const stats = runFuzz(target, { seed, seconds, maxFindings: 50, onIteration: (i) => Atomics.store(shared, 1, i) });
  results.push(stats);
  console.log(`${target.name}: ${stats.iterations} iterations, ${stats.findings.length} findings`);
  for (const f of stats.findings) {
    console.log(show(f));
    if (outDir) {
      mkdirSync(outDir, { recursive: true });
      writeFileSync(join(outDir, `${f.target}-${f.seed}-${f.iteration}.bin`), f.input);
    }
  }
});

const rows = results.map((r) => [r.target, String(r.iterations), r.execPerSec.toFixed(0), String(r.findings.length), r.maxMs.toFixed(2)]);
const header = ['target', 'iterations', 'exec/s', 'findings', 'max ms/input'];
const widths = header.map((h, c) => Math.max(h.length, ...rows.map((row) => row[c]!.length)));
const line = (cells: string[]): string => `| ${cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join(' | ')} |`;
console.log(`\nseed ${seed}, ${seconds} s per target, hang budget 50 ms\n`);
console.log(line(header));
console.log(`|${widths.map((w, c) => (c === 0 ? ':' : '-') + '-'.repeat(w) + (c === 0 ? '-' : ':')).join('|')}|`);
for (const row of rows) console.log(line(row));
process.exit(results.some((r) => r.findings.length > 0) ? 1 : 0);
