// The CI fuzz run: every target on its seeds and a few thousand mutations, with a fixed seed so a
// failure here reproduces exactly (`node --import tsx bench/fuzz.ts --target T --seed S --reproduce I`).
// The long run is bench/fuzz.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALL_TARGETS } from './targets.js';
import { Prng, iterationSeed, mutate } from './mutator.js';
import { OracleViolation, inputFor, runFuzz, type FuzzTarget } from './runner.js';

const SEED = 20_260_701;
/** Iterations per target (default 5,000). Whole file: about 10 s here, well under the 60 s budget. */
const ITERATIONS: Readonly<Record<string, number>> = {};

for (const target of ALL_TARGETS) {
  test(`fuzz ${target.name}: no crash, hang or oracle violation`, () => {
    assert.ok(target.seeds.length > 0, 'the seed corpus is empty');
    // 150 ms, not bench/fuzz.ts's 50: the slowest legitimate input (64 KiB of TwiML) takes ~27 ms
    // here, and CI shares its cores; a real quadratic parser blows far past either.
    const stats = runFuzz(target, { seed: SEED, iterations: ITERATIONS[target.name] ?? 5000, maxFindings: 5, hangMs: 150 });
    const report = stats.findings.map((f) => `${f.kind} at iteration ${f.iteration} (seed ${f.seed}): ${f.message}`);
    assert.deepEqual(report, []);
  });
}

// ---- the fuzzer itself -------------------------------------------------------------------------

test('an iteration reproduces from (target, seed, iteration) alone', () => {
  const target = ALL_TARGETS.find((t) => t.name === 'sip-datagram')!;
  const at = target.seeds.length + 1234;
  const a = inputFor(target, 7, at);
  inputFor(target, 7, at + 1); // unrelated work in between changes nothing
  const b = inputFor(target, 7, at);
  assert.ok(a.input.equals(b.input));
  assert.equal(a.rng.nextU32(), b.rng.nextU32());
  assert.notEqual(iterationSeed('sip-datagram', 7, at), iterationSeed('sip-datagram', 8, at));
});

test('mutations stay within the size bound and do change inputs', () => {
  const rng = new Prng(42);
  const seeds = [Buffer.from('INVITE sip:a@b SIP/2.0\r\nVia: x\r\nCSeq: 1 INVITE\r\n\r\n')];
  let changed = 0;
  for (let i = 0; i < 500; i++) {
    const out = mutate({ rng, seeds, dictionary: ['\r\n'], maxBytes: 256 }, false);
    assert.ok(out.length <= 256);
    if (!out.equals(seeds[0]!)) changed++;
  }
  assert.ok(changed > 400, `only ${changed} of 500 mutations changed the input`);
});

test('the runner reports crashes, oracle violations and hangs with their coordinates', () => {
  const target: FuzzTarget = {
    name: 'planted',
    seeds: [Buffer.from('ok'), Buffer.from('type'), Buffer.from('oracle'), Buffer.from('slow')],
    dictionary: [],
    run(input) {
      const s = input.toString();
      if (s === 'type') throw new TypeError('planted');
      if (s === 'oracle') throw new OracleViolation('planted');
      if (s === 'slow') {
        // 60 ms of busy work against a 50 ms budget: a slower machine only makes it slower.
        const until = performance.now() + 60;
        while (performance.now() < until) {
          // spin
        }
      }
    },
  };
  // Iterations 0..3 are the seeds themselves, unmutated.
  const stats = runFuzz(target, { seed: 1, iterations: 4 });
  assert.deepEqual(stats.findings.map((f) => [f.iteration, f.kind]), [[1, 'crash'], [2, 'oracle'], [3, 'hang']]);
  assert.match(stats.findings[0]!.message, /TypeError: planted/);
  assert.ok(stats.maxMs >= 50);
});
