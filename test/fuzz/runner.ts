/**
 * The fuzz loop: runs a target on its seeds, then on mutated seeds, timing each input, and
 * records crashes (an exception the target does not allow), hangs (one input slower than the
 * budget, confirmed by re-running it) and oracle violations. Iterations are independent, so a
 * finding reproduces from (target, seed, iteration) alone.
 */
import { Prng, iterationSeed, mutate } from './mutator.js';

/** What one fuzz target is: a corpus, a dictionary, and a `run` that applies the target's oracle. */
export interface FuzzTarget {
  name: string;
  seeds: readonly Buffer[];
  dictionary: readonly string[];
  /** Inputs are JSON: tree mutations are mixed in. */
  json?: boolean;
  /** Largest mutated input (default 64 KiB: a SIP stream message's maximum). */
  maxBytes?: number;
  /**
   * Runs the code under test on `input`. It catches the errors the module is allowed to raise
   * (its own typed errors) and throws OracleViolation when a result breaks an invariant; any other
   * exception escaping is a crash. `rng` is for target-side choices (e.g. TCP chunk sizes).
   */
  run(input: Buffer, rng: Prng): void;
}

/** A broken invariant (round trip, chunking, memory bound...), as opposed to a crash. */
export class OracleViolation extends Error {
  readonly code = 'FUZZ_ORACLE';
  constructor(message: string) {
    super(message);
    this.name = 'OracleViolation';
  }
}

export type FindingKind = 'crash' | 'hang' | 'oracle';

export interface Finding {
  target: string;
  seed: number;
  iteration: number;
  kind: FindingKind;
  message: string;
  input: Buffer;
  ms: number;
}

export interface RunOptions {
  seed: number;
  /** Stop after this many iterations... */
  iterations?: number;
  /** ...or after this many seconds, whichever comes first. */
  seconds?: number;
  /** One input taking longer than this (confirmed on re-runs) is a hang. Default 50 ms. */
  hangMs?: number;
  /** Stop collecting after this many findings (default 20). */
  maxFindings?: number;
  /** Called with the coordinates of every iteration before it runs (the watchdog uses it). */
  onIteration?: (iteration: number) => void;
}

export interface RunStats {
  target: string;
  seed: number;
  iterations: number;
  elapsedMs: number;
  execPerSec: number;
  findings: Finding[];
  /** Slowest input (after re-measuring outliers), and where it was. */
  maxMs: number;
  maxMsIteration: number;
}

/** The input and target-side PRNG of one iteration; iterations below the corpus size run the seeds as they are. */
export function inputFor(target: FuzzTarget, seed: number, iteration: number): { input: Buffer; rng: Prng } {
  const rng = new Prng(iterationSeed(target.name, seed, iteration));
  if (iteration < target.seeds.length) return { input: target.seeds[iteration]!, rng };
  const input = mutate({ rng, seeds: target.seeds, dictionary: target.dictionary, maxBytes: target.maxBytes ?? 64 * 1024 }, target.json === true);
  return { input, rng };
}

function describe(err: unknown): { kind: FindingKind; message: string } {
  if (err instanceof OracleViolation) return { kind: 'oracle', message: err.message };
  if (err instanceof Error) {
    const frame = err.stack?.split('\n').find((l) => l.includes('/src/')) ?? err.stack?.split('\n')[1] ?? '';
    return { kind: 'crash', message: `${err.name}: ${err.message.slice(0, 200)} ${frame.trim()}` };
  }
  return { kind: 'crash', message: `non-Error thrown: ${String(err).slice(0, 200)}` };
}

/** Runs one iteration and times it; a slow run is measured twice more and the fastest counts. */
function execute(target: FuzzTarget, seed: number, iteration: number, hangMs: number): { error?: unknown; ms: number; input: Buffer } {
  let best = Infinity;
  let input: Buffer = Buffer.alloc(0);
  for (let attempt = 0; attempt < 3; attempt++) {
    const made = inputFor(target, seed, iteration);
    input = made.input;
    const t0 = performance.now();
    try {
      target.run(made.input, made.rng);
    } catch (error) {
      return { error, ms: performance.now() - t0, input };
    }
    best = Math.min(best, performance.now() - t0);
    if (best <= hangMs / 5) break; // clearly fast: no need to re-measure
  }
  return { ms: best, input };
}

export function runFuzz(target: FuzzTarget, opts: RunOptions): RunStats {
  const hangMs = opts.hangMs ?? 50;
  const maxFindings = opts.maxFindings ?? 20;
  const deadline = opts.seconds !== undefined ? performance.now() + opts.seconds * 1000 : Infinity;
  const limit = opts.iterations ?? Infinity;
  const findings: Finding[] = [];
  const started = performance.now();
  let maxMs = 0;
  let maxMsIteration = -1;
  let iteration = 0;
  for (; iteration < limit && findings.length < maxFindings; iteration++) {
    if ((iteration & 63) === 0 && performance.now() > deadline) break;
    opts.onIteration?.(iteration);
    const r = execute(target, opts.seed, iteration, hangMs);
    if (r.ms > maxMs) {
      maxMs = r.ms;
      maxMsIteration = iteration;
    }
    const base = { target: target.name, seed: opts.seed, iteration, input: r.input, ms: r.ms };
    if (r.error !== undefined) findings.push({ ...base, ...describe(r.error) });
    else if (r.ms > hangMs) findings.push({ ...base, kind: 'hang', message: `${r.ms.toFixed(1)} ms on a ${r.input.length}-byte input` });
  }
  const elapsedMs = performance.now() - started;
  return { target: target.name, seed: opts.seed, iterations: iteration, elapsedMs, execPerSec: iteration / (elapsedMs / 1000), findings, maxMs, maxMsIteration };
}

/** Re-runs one iteration: the finding it produces now, or null when it passes. */
export function reproduce(target: FuzzTarget, seed: number, iteration: number, hangMs = 50): Finding | null {
  const r = execute(target, seed, iteration, hangMs);
  const base = { target: target.name, seed, iteration, input: r.input, ms: r.ms };
  if (r.error !== undefined) return { ...base, ...describe(r.error) };
  return r.ms > hangMs ? { ...base, kind: 'hang', message: `${r.ms.toFixed(1)} ms` } : null;
}
