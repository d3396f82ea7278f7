/**
 * A small, deterministic mutation fuzzer's input side: a seeded PRNG and byte-, line- and
 * JSON-level mutators (the loop that runs targets is runner.ts).
 *
 * Why not coverage-guided: @jazzer.js/core 4.x ships its libFuzzer addon prebuilt for glibc 2.38
 * (this machine has 2.36) and 2.x fetches its binary from GitHub at install time, outside the npm
 * registry. So this is a blind mutator, made effective with per-target dictionaries and
 * structure-aware mutators (lines, header names/values, numbers, JSON trees).
 *
 * Every iteration derives its own PRNG from (target, seed, iteration) with `iterationSeed`,
 * independent of the iterations before it, so any finding reproduces from those three values.
 */

/** mulberry32: tiny, fast, and plenty for choosing mutations (not for cryptography). */
export class Prng {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** Uniform 32-bit unsigned integer (mulberry32). */
  nextU32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.nextU32() / 0x100000000;
  }

  /** Integer in [0, n); n must be ≥ 1. */
  int(n: number): number {
    return Math.floor((this.nextU32() / 0x100000000) * n);
  }

  chance(p: number): boolean {
    return this.nextU32() / 0x100000000 < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[this.int(items.length)]!;
  }
}

/** FNV-1a over a string: stable target-name hashing for seed derivation. */
export function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** The PRNG seed of one iteration: a mix of the three coordinates that identify it. */
export function iterationSeed(target: string, seed: number, iteration: number): number {
  let x = (hashString(target) ^ Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(iteration >>> 0, 0x85ebca6b)) >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d) >>> 0;
  x ^= x >>> 15;
  return x >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Mutators. Each takes the input and returns a new Buffer (inputs are never modified in place,
// because seeds are shared between iterations).

export interface MutationContext {
  rng: Prng;
  /** The whole corpus, for splicing. */
  seeds: readonly Buffer[];
  /** Target-specific tokens inserted or substituted verbatim. */
  dictionary: readonly string[];
  /** Upper bound on the size a mutation may produce. */
  maxBytes: number;
}

export type Mutator = (input: Buffer, ctx: MutationContext) => Buffer;

const INTERESTING_BYTES = [0, 9, 10, 13, 32, 34, 37, 39, 44, 58, 59, 60, 61, 62, 63, 64, 91, 92, 93, 0x7f, 0x80, 0xc0, 0xff];

/** Numbers at the edges of what parsers convert: sign, 31/32/53-bit limits, floats, exponents. */
export const EDGE_NUMBERS = [
  '0', '-0', '-1', '00000000000000000001', '65535', '65536', '2147483647', '2147483648', '4294967295', '4294967296',
  '9007199254740991', '9007199254740993', '99999999999999999999999999', '1e309', '-1e309', '0x10', '1.5', '.5', 'NaN',
  'Infinity', '+1', '1_000', '٣', '',
];

/** Byte sequences that are not valid UTF-8, or are awkward valid UTF-8. */
const UTF8_GARBAGE: readonly number[][] = [
  [0x80], [0xbf], [0xc0, 0x80], [0xc1, 0xbf], [0xe0, 0x80, 0x80], [0xed, 0xa0, 0x80], [0xed, 0xbf, 0xbf], [0xf4, 0x90, 0x80, 0x80],
  [0xf8, 0x88, 0x80, 0x80, 0x80], [0xfe], [0xff], [0xef, 0xbb, 0xbf], [0xe2, 0x80, 0xa8], [0xf0, 0x9f, 0x98, 0x80], [0xc3],
  [0xe2, 0x82], [0x00],
];

function clampSize(buf: Buffer, ctx: MutationContext): Buffer {
  return buf.length > ctx.maxBytes ? buf.subarray(0, ctx.maxBytes) : buf;
}

function replaceRange(input: Buffer, start: number, end: number, insert: Buffer | string): Buffer {
  const mid = typeof insert === 'string' ? Buffer.from(insert, 'utf8') : insert;
  return Buffer.concat([input.subarray(0, start), mid, input.subarray(end)]);
}

const bitFlip: Mutator = (input, { rng }) => {
  if (input.length === 0) return Buffer.from([rng.int(256)]);
  const out = Buffer.from(input);
  const flips = 1 + rng.int(4);
  for (let k = 0; k < flips; k++) {
    const i = rng.int(out.length);
    out[i] = out[i]! ^ (1 << rng.int(8));
  }
  return out;
};

const byteInsert: Mutator = (input, { rng }) => {
  const at = rng.int(input.length + 1);
  const n = 1 + rng.int(4);
  const bytes = Buffer.alloc(n);
  for (let k = 0; k < n; k++) bytes[k] = rng.chance(0.6) ? rng.pick(INTERESTING_BYTES) : rng.int(256);
  return replaceRange(input, at, at, bytes);
};

const byteDelete: Mutator = (input, { rng }) => {
  if (input.length === 0) return input;
  const at = rng.int(input.length);
  const n = 1 + rng.int(Math.min(16, input.length - at));
  return replaceRange(input, at, at + n, '');
};

const splice: Mutator = (input, ctx) => {
  const other = ctx.rng.pick(ctx.seeds);
  const cut = ctx.rng.int(input.length + 1);
  const from = ctx.rng.int(other.length + 1);
  return Buffer.concat([input.subarray(0, cut), other.subarray(from)]);
};

const truncate: Mutator = (input, { rng }) => input.subarray(0, rng.int(input.length + 1));

/** Lines split on LF (the CR, if any, stays with its line). */
function lines(input: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = input.indexOf(10); i >= 0; i = input.indexOf(10, start)) {
    out.push(input.subarray(start, i + 1));
    start = i + 1;
  }
  if (start < input.length) out.push(input.subarray(start));
  return out;
}

const duplicateLine: Mutator = (input, { rng }) => {
  const ls = lines(input);
  if (ls.length === 0) return input;
  const i = rng.int(ls.length);
  const times = rng.chance(0.2) ? 2 + rng.int(200) : 1;
  const copies: Buffer[] = Array.from({ length: times }, () => ls[i]!);
  return Buffer.concat([...ls.slice(0, i + 1), ...copies, ...ls.slice(i + 1)]);
};

const removeLine: Mutator = (input, { rng }) => {
  const ls = lines(input);
  if (ls.length === 0) return input;
  const i = rng.int(ls.length);
  return Buffer.concat([...ls.slice(0, i), ...ls.slice(i + 1)]);
};

const swapLines: Mutator = (input, { rng }) => {
  const ls = lines(input);
  if (ls.length < 2) return input;
  const a = rng.int(ls.length);
  const b = rng.int(ls.length);
  [ls[a], ls[b]] = [ls[b]!, ls[a]!];
  return Buffer.concat(ls);
};

/** Swaps the names (or the values) of two `name: value` / `k=v` lines: e.g. a Via value under CSeq. */
const headerSwap: Mutator = (input, { rng }) => {
  const ls = lines(input).map((l) => l.toString('latin1'));
  const idx = ls.map((l, i) => (/^[^\s:=]+\s*[:=]/.test(l) ? i : -1)).filter((i) => i >= 0);
  if (idx.length < 2) return input;
  const a = rng.pick(idx);
  const b = rng.pick(idx);
  const split = (l: string): [string, string] => {
    const m = /^([^\s:=]+\s*[:=])(.*)$/s.exec(l)!;
    return [m[1]!, m[2]!];
  };
  const [na, va] = split(ls[a]!);
  const [nb, vb] = split(ls[b]!);
  if (rng.chance(0.5)) {
    ls[a] = na + vb;
    ls[b] = nb + va;
  } else {
    ls[a] = nb + va;
    ls[b] = na + vb;
  }
  return Buffer.from(ls.join(''), 'latin1');
};

/** Replaces a run of digits with an edge value (huge, negative, float, empty...). */
const numberEdge: Mutator = (input, { rng }) => {
  const text = input.toString('latin1');
  const runs: [number, number][] = [];
  for (const m of text.matchAll(/[0-9]+/g)) runs.push([m.index, m.index + m[0].length]);
  if (runs.length === 0) return input;
  const [s, e] = rng.pick(runs);
  const value = rng.chance(0.8) ? rng.pick(EDGE_NUMBERS) : '9'.repeat(1 + rng.int(400));
  return replaceRange(input, s, e, value);
};

/** Repeats a slice (or a dictionary token) many times: finds quadratic scans and stack-deep recursion. */
const longRepeat: Mutator = (input, ctx) => {
  const { rng } = ctx;
  let unit: Buffer;
  if (ctx.dictionary.length > 0 && rng.chance(0.5)) unit = Buffer.from(rng.pick(ctx.dictionary), 'utf8');
  else {
    if (input.length === 0) return input;
    const s = rng.int(input.length);
    unit = input.subarray(s, s + 1 + rng.int(Math.min(8, input.length - s)));
  }
  if (unit.length === 0) return input;
  const budget = Math.max(1, Math.floor((ctx.maxBytes - input.length) / unit.length));
  const times = Math.min(budget, rng.chance(0.3) ? 1000 + rng.int(20000) : 2 + rng.int(300));
  const at = rng.int(input.length + 1);
  return replaceRange(input, at, at, Buffer.concat(Array.from({ length: times }, () => unit)));
};

/** CRLF ↔ LF, lone CR, doubled line ends: framing and folding edge cases. */
const lineEndMix: Mutator = (input, { rng }) => {
  const text = input.toString('latin1');
  const ends: number[] = [];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) ends.push(i);
  if (ends.length === 0) {
    const at = rng.int(input.length + 1);
    return replaceRange(input, at, at, '\r\n');
  }
  const at = rng.pick(ends);
  const crlf = at > 0 && text[at - 1] === '\r';
  const start = crlf ? at - 1 : at;
  const replacement = rng.pick(['\n', '\r\n', '\r', '\r\r\n', '\n\r', '\r\n\r\n', '\r\n ', '\r\n\t', '', '\n\n']);
  if (rng.chance(0.2)) {
    // Convert every line end at once: a whole message in bare LF (or bare CR).
    return Buffer.from(text.replace(/\r?\n/g, rng.pick(['\n', '\r', '\r\n'])), 'latin1');
  }
  return replaceRange(input, start, at + 1, replacement);
};

const utf8Garbage: Mutator = (input, { rng }) => {
  const at = rng.int(input.length + 1);
  const bytes = Buffer.from(rng.pick(UTF8_GARBAGE));
  return rng.chance(0.5) || input.length === 0 ? replaceRange(input, at, at, bytes) : replaceRange(input, at, Math.min(input.length, at + bytes.length), bytes);
};

const dictionaryInsert: Mutator = (input, ctx) => {
  if (ctx.dictionary.length === 0) return byteInsert(input, ctx);
  const token = ctx.rng.pick(ctx.dictionary);
  const at = ctx.rng.int(input.length + 1);
  const end = ctx.rng.chance(0.5) ? at : Math.min(input.length, at + ctx.rng.int(token.length + 4));
  return replaceRange(input, at, end, token);
};

// ---- JSON-tree mutation (for targets whose input is JSON) ---------------------------------------

const DEEP_MARK = 'DEEP~NEST~';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function randomJsonLeaf(ctx: MutationContext): Json {
  const { rng } = ctx;
  switch (rng.int(9)) {
    case 0: return null;
    case 1: return rng.chance(0.5);
    case 2: return Number(rng.pick(EDGE_NUMBERS.filter((n) => n !== ''))) || rng.pick([0, -1, 1e308, -1e-308, 2 ** 53 + 2, 0.1]);
    case 3: return rng.pick(ctx.dictionary.length > 0 ? ctx.dictionary : ['x']);
    case 4: return 'A'.repeat(rng.int(5000));
    case 5: return [];
    case 6: return {};
    case 7: return String.fromCharCode(rng.int(0x10000)) + '\u0000\ud800';
    default: return rng.pick(EDGE_NUMBERS);
  }
}

function mutateJsonTree(node: Json, ctx: MutationContext, depth: number): Json {
  const { rng } = ctx;
  if (depth > 6 || rng.chance(0.25)) {
    // Deep nesting: readers that recurse must not overflow the stack on hostile input. A marker
    // here, expanded to text after JSON.stringify (which would itself overflow on the real thing).
    if (rng.chance(0.08)) return `${DEEP_MARK}${1 + rng.int(20000)}`;
    return randomJsonLeaf(ctx);
  }
  if (Array.isArray(node)) {
    const out = node.map((c) => (rng.chance(0.5) ? mutateJsonTree(c, ctx, depth + 1) : c));
    if (rng.chance(0.2) && out.length > 0) out.push(...Array.from({ length: 1 + rng.int(50) }, () => out[rng.int(out.length)]!));
    if (rng.chance(0.2) && out.length > 0) out.splice(rng.int(out.length), 1);
    return out;
  }
  if (node !== null && typeof node === 'object') {
    const out: { [k: string]: Json } = {};
    const keys = Object.keys(node);
    for (const k of keys) {
      if (rng.chance(0.1)) continue; // drop a property
      const key = rng.chance(0.08) && ctx.dictionary.length > 0 ? rng.pick(ctx.dictionary) : k;
      out[key] = rng.chance(0.5) ? mutateJsonTree(node[k]!, ctx, depth + 1) : node[k]!;
    }
    if (rng.chance(0.15)) out[rng.chance(0.5) ? '__proto__' : rng.pick([...keys, 'constructor', 'toString', 'verb'])] = randomJsonLeaf(ctx);
    return out;
  }
  return rng.chance(0.5) ? randomJsonLeaf(ctx) : node;
}

const jsonTree: Mutator = (input, ctx) => {
  let tree: Json;
  try {
    tree = JSON.parse(input.toString('utf8')) as Json;
  } catch {
    return dictionaryInsert(input, ctx); // not JSON (any more): fall back to a text mutation
  }
  let json: string;
  try {
    json = JSON.stringify(mutateJsonTree(tree, ctx, 0));
  } catch (err) {
    // An input already nested thousands deep (an earlier round) is too deep for JSON.stringify.
    if (err instanceof RangeError) return dictionaryInsert(input, ctx);
    throw err;
  }
  const out = json.replace(new RegExp(`"${DEEP_MARK}(\\d+)"`, 'g'), (_m, n: string) => {
    const open = ctx.rng.chance(0.5) ? '[' : '{"verbs":[';
    const close = open === '[' ? ']' : ']}';
    return open.repeat(Number(n)) + '1' + close.repeat(Number(n));
  });
  return Buffer.from(out, 'utf8');
};

export const BYTE_MUTATORS: Readonly<Record<string, Mutator>> = {
  bitFlip, byteInsert, byteDelete, splice, truncate, duplicateLine, removeLine, swapLines, headerSwap, numberEdge,
  longRepeat, lineEndMix, utf8Garbage, dictionaryInsert,
};
export const JSON_MUTATORS: Readonly<Record<string, Mutator>> = { jsonTree };

/** One input: a seed from the corpus with 1–5 stacked mutations, chosen by `rng`. */
export function mutate(ctx: MutationContext, json: boolean): Buffer {
  const { rng } = ctx;
  let input = rng.pick(ctx.seeds);
  const byteNames = Object.keys(BYTE_MUTATORS);
  const rounds = 1 + rng.int(rng.chance(0.3) ? 5 : 2);
  for (let r = 0; r < rounds; r++) {
    const m = json && rng.chance(0.6) ? jsonTree : BYTE_MUTATORS[rng.pick(byteNames)]!;
    input = clampSize(m(input, ctx), ctx);
  }
  return input;
}
