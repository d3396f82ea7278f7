/**
 * The embedded offline speech recognizer: CMU pocketsphinx (Debian bookworm 0.8+5prealpha), run as one
 * `pocketsphinx_continuous` child process per recognition stream, fed raw 16-bit 16 kHz audio on stdin.
 *
 * - Debian ships no Node binding, so the CLI it is. It segments on silence by itself (its VAD ends an
 *   utterance after ~0.5 s of silence) and prints, per utterance, the hypothesis line and then, with
 *   `-time yes`, one `word start end posterior` line per segment (times in seconds of input, counted
 *   from the first sample written, silence included). stdout is a pipe, so C stdio would hold results
 *   until 4 KB or exit; `stdbuf -oL` (coreutils) makes it line-buffered so finals arrive mid-stream.
 * - The only model is the 16 kHz en-US one; 8 kHz phone audio is upsampled. Band-limited audio decodes
 *   badly (empty 4–8 kHz filters, digital silence from µ-law): 38/84 clips right in our sweep. Adding a
 *   fixed, seeded white-noise floor (~−43 dBFS) raised that to 74/84, 76/84 with the VAD setting below (fixtures: 5/14 → 14/14); a noise
 *   floor is what the model saw in training. Spectral folding and -dither were measured and lost.
 * - With hints the search is a JSGF grammar over just those phrases (speech-grammar.ts says why not
 *   -kws). pocketsphinx's grammar search has no word posteriors (it prints a placeholder 1.000000), so
 *   grammar results carry confidence 0, as the contract asks of engines that give none. Without hints
 *   the general language model runs; it is poor for free speech (WER ~56% on phone audio) and its
 *   confidence is the lowest word posterior.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Resampler } from '../media/resampler.js';
import { buildSpeechSearch, parsePronouncingDictionary, type PronunciationLookup, type SpeechSearch } from './speech-grammar.js';
import {
  joinResults,
  SttError,
  type RecognitionEvents,
  type RecognitionOptions,
  type RecognitionResult,
  type RecognitionStream,
  type SpeechRecognizer,
} from './speech-recognizer.js';

export interface PocketsphinxRecognizerOptions {
  /** Default: the Debian path /usr/bin/pocketsphinx_continuous. */
  binary?: string;
  /** Directory holding en-us/ (acoustic model), en-us.lm.bin and cmudict-en-us.dict. Default: Debian's. */
  modelDir?: string;
  /** coreutils stdbuf, to line-buffer the decoder's stdout; null = none (finals then arrive at exit). */
  stdbuf?: string | null;
  /** Decoder processes running at once (default 16); further opens wait in a queue. */
  maxConcurrent?: number;
  /** Where grammar and dictionary files are written (default: a fresh directory under the OS tmpdir). */
  workDir?: string;
}

const DEFAULT_BINARY = '/usr/bin/pocketsphinx_continuous';
const DEFAULT_MODEL_DIR = '/usr/share/pocketsphinx/model/en-us';
const DEFAULT_STDBUF = '/usr/bin/stdbuf';
const DECODER_RATE = 16000;
const INSTALL_HINT = 'install the Debian packages `pocketsphinx pocketsphinx-en-us`';
/** Peak of the uniform noise floor added to band-limited input (±410 ≈ −43 dBFS RMS); see header. */
const NOISE_FLOOR_PEAK = 410;
const SUPPORTED_LANGUAGE = /^en(-(us|gb))?$/i;
/**
 * The CLI's VAD (threshold 2.0 by default) fires once on the noise floor while its noise estimate
 * settles, ~1 s in, and a grammar search then forces a hint onto it: "no" from pure silence. 2.5 stops
 * that and, on the 84-clip sweep, loses nothing at normal level (76/84) or 10 dB quieter (75/84),
 * where 3.0 dropped to 69/84. Priming the decoder with 2 s of noise instead cost accuracy (68/84).
 */
const VAD_THRESHOLD = '2.5';

/** Counting semaphore whose waiters can give up (AbortSignal). */
class Slots {
  private active = 0;
  private readonly waiters: Array<() => void> = [];
  constructor(private readonly limit: number) {}

  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(new SttError('aborted', 'recognition aborted before it started'));
    if (this.active < this.limit) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const grant = (): void => {
        signal?.removeEventListener('abort', onAbort);
        this.active++;
        resolve();
      };
      const onAbort = (): void => {
        const i = this.waiters.indexOf(grant);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new SttError('aborted', 'recognition aborted while waiting for a free decoder'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(grant);
    });
  }

  release(): void {
    this.active--;
    this.waiters.shift()?.();
  }
}

export class PocketsphinxRecognizer implements SpeechRecognizer {
  readonly name = 'pocketsphinx';
  private readonly binary: string;
  private readonly modelDir: string;
  private readonly stdbuf: string | null;
  private readonly slots: Slots;
  private readonly ownWorkDir: boolean;
  private workDir: Promise<string> | undefined;
  private dictionary: Promise<PronunciationLookup> | undefined;
  private readonly grammarFiles = new Map<string, Promise<{ jsgf: string; dict: string }>>();

  constructor(private readonly opts: PocketsphinxRecognizerOptions = {}) {
    this.binary = opts.binary ?? DEFAULT_BINARY;
    this.modelDir = opts.modelDir ?? DEFAULT_MODEL_DIR;
    this.stdbuf = opts.stdbuf === undefined ? DEFAULT_STDBUF : opts.stdbuf;
    const max = opts.maxConcurrent ?? 16;
    if (!(Number.isInteger(max) && max > 0)) throw new RangeError(`maxConcurrent must be a positive integer (got ${max})`);
    this.slots = new Slots(max);
    this.ownWorkDir = opts.workDir === undefined;
  }

  async open(options: RecognitionOptions, events: RecognitionEvents, signal?: AbortSignal): Promise<PocketsphinxStream> {
    if (!SUPPORTED_LANGUAGE.test(options.language)) {
      throw new SttError('invalid-request', `pocketsphinx has only an English model (en-US, en-GB, en); got "${options.language}"`);
    }
    if (!(Number.isInteger(options.sampleRate) && options.sampleRate >= 8000 && options.sampleRate <= 48000)) {
      throw new SttError('invalid-request', `unsupported sample rate ${options.sampleRate} (8000–48000 Hz)`);
    }
    if (signal?.aborted) throw new SttError('aborted', 'recognition aborted before it started');
    await this.checkInstalled();
    await this.slots.acquire(signal);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.slots.release();
    };
    try {
      const search = buildSpeechSearch(options.hints, options.hints.length > 0 ? await this.loadDictionary() : () => undefined);
      const args = ['-infile', '/dev/stdin', '-time', 'yes', '-vad_threshold', VAD_THRESHOLD, '-hmm', join(this.modelDir, 'en-us')];
      if (search.kind === 'grammar') {
        const files = await this.grammarFilesFor(search.jsgf, search.dictionary);
        args.push('-jsgf', files.jsgf, '-dict', files.dict);
      } else {
        args.push('-lm', join(this.modelDir, 'en-us.lm.bin'), '-dict', join(this.modelDir, 'cmudict-en-us.dict'));
      }
      if (signal?.aborted) throw new SttError('aborted', 'recognition aborted before it started');
      const child = await this.spawnDecoder(args);
      const stream = new PocketsphinxStream(child, search, options.sampleRate, events, release);
      if (signal) {
        const onAbort = (): void => stream.abort();
        signal.addEventListener('abort', onAbort, { once: true });
        child.once('close', () => signal.removeEventListener('abort', onAbort));
      }
      return stream;
    } catch (err) {
      release();
      throw err;
    }
  }

  async close(): Promise<void> {
    if (this.ownWorkDir && this.workDir) {
      const dir = await this.workDir.catch(() => undefined);
      this.workDir = undefined;
      this.grammarFiles.clear();
      if (dir) await rm(dir, { recursive: true, force: true });
    }
  }

  private async checkInstalled(): Promise<void> {
    const need: Array<[string, number]> = [
      [this.binary, constants.X_OK],
      [join(this.modelDir, 'en-us', 'mdef'), constants.R_OK],
      [join(this.modelDir, 'en-us.lm.bin'), constants.R_OK],
      [join(this.modelDir, 'cmudict-en-us.dict'), constants.R_OK],
    ];
    for (const [path, mode] of need) {
      try {
        await access(path, mode);
      } catch (cause) {
        throw new SttError('unavailable', `pocketsphinx is not available: ${path} is missing; ${INSTALL_HINT}`, { cause });
      }
    }
  }

  private loadDictionary(): Promise<PronunciationLookup> {
    this.dictionary ??= readFile(join(this.modelDir, 'cmudict-en-us.dict'), 'utf8').then(parsePronouncingDictionary);
    this.dictionary.catch(() => (this.dictionary = undefined)); // retry on the next open
    return this.dictionary;
  }

  /** Grammar files are content-addressed, so 100 gathers with the same hints share one pair. */
  private grammarFilesFor(jsgf: string, dictionary: string): Promise<{ jsgf: string; dict: string }> {
    const key = createHash('sha256').update(jsgf).update('\0').update(dictionary).digest('hex').slice(0, 20);
    let files = this.grammarFiles.get(key);
    if (!files) {
      files = (async () => {
        const dir = await this.ensureWorkDir();
        const paths = { jsgf: join(dir, `${key}.gram`), dict: join(dir, `${key}.dict`) };
        await writeFile(paths.jsgf, jsgf);
        await writeFile(paths.dict, dictionary);
        return paths;
      })();
      files.catch(() => this.grammarFiles.delete(key));
      this.grammarFiles.set(key, files);
    }
    return files;
  }

  private ensureWorkDir(): Promise<string> {
    const dir = this.opts.workDir;
    this.workDir ??= dir !== undefined ? mkdir(dir, { recursive: true }).then(() => dir) : mkdtemp(join(tmpdir(), 'patchbay-pocketsphinx-'));
    return this.workDir;
  }

  private spawnDecoder(args: string[]): Promise<ChildProcessWithoutNullStreams> {
    // The CLI fopen()s -infile. Node's stdio "pipes" are socketpairs, and open("/dev/stdin") on a socket
    // fails (ENXIO), so `cat` bridges our socket to a real pipe. The shell leads its own process group
    // (detached), which abort() signals as a whole; its no-op TERM trap keeps it alive to reap cat and
    // the decoder (no orphans left for init), then it exits with the decoder's status. If Patchbay
    // dies, the socket closes, cat sees EOF and the decoder finishes and exits on its own.
    const decoder = this.stdbuf ? [this.stdbuf, '-oL', this.binary, ...args] : [this.binary, ...args];
    const child = spawn('/bin/sh', ['-c', 'trap : TERM; cat | "$@"', 'pocketsphinx', ...decoder], { detached: true });
    return new Promise((resolve, reject) => {
      const onError = (cause: Error): void => {
        reject(new SttError('unavailable', `cannot start ${this.binary}: ${cause.message}; ${INSTALL_HINT}`, { cause }));
      };
      child.once('error', onError);
      child.once('spawn', () => {
        child.off('error', onError);
        resolve(child);
      });
    });
  }
}

type StreamState = 'open' | 'finishing' | 'done' | 'aborted';

/** One recognition: owns its decoder process from spawn to exit. */
export class PocketsphinxStream implements RecognitionStream {
  /** Process group of the decoder (sh, cat and pocketsphinx_continuous); gone once the stream ends. */
  readonly processGroup: number;
  /** Resolves once the decoder has loaded its model (or exited); for latency measurement. */
  readonly ready: Promise<void>;
  private state: StreamState = 'open';
  private readonly resampler: Resampler | undefined;
  private readonly bandLimited: boolean;
  private noiseSeed = 0x2545f491;
  private readonly parser: DecoderOutputParser;
  private readonly finals: RecognitionResult[] = [];
  private readonly queued: Buffer[] = [];
  private blocked = false;
  private endRequested = false;
  private stderrTail = '';
  private stdinError: Error | undefined;
  private readonly done: Promise<RecognitionResult | null>;

  constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    /** The search in use, with the hints that were dropped and why. */
    readonly search: SpeechSearch,
    sampleRate: number,
    private readonly events: RecognitionEvents,
    release: () => void,
  ) {
    this.processGroup = child.pid!;
    this.resampler = sampleRate === DECODER_RATE ? undefined : new Resampler(sampleRate, DECODER_RATE, { quality: 'fast' });
    this.bandLimited = sampleRate < DECODER_RATE;
    this.parser = new DecoderOutputParser(search.kind === 'grammar', (r) => {
      if (this.state === 'aborted') return;
      this.finals.push(r);
      this.events.final?.(r);
    });
    let markReady: () => void = () => {};
    this.ready = new Promise((resolve) => (markReady = resolve));
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => this.parser.push(text));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      // The CLI logs this line right after the decoder is initialised (model and grammar loaded).
      if (text.includes('COMPILED ON')) markReady();
      this.stderrTail = (this.stderrTail + text).slice(-2000);
    });
    // EPIPE when the decoder died with audio still queued: the exit status tells the story (below).
    child.stdin.on('error', (err) => (this.stdinError = err));
    child.stdin.on('drain', () => this.drainQueue());
    this.done = new Promise((resolve, reject) => {
      child.once('close', (code, signal) => {
        markReady();
        release();
        if (this.state === 'aborted') return reject(new SttError('aborted', 'recognition aborted'));
        this.parser.end();
        if (code === 0 && this.endRequested) {
          this.state = 'done';
          return resolve(joinResults(this.finals));
        }
        this.state = 'done';
        // The shell reports a decoder killed by signal N as exit status 128 + N.
        const how = signal
          ? `was killed by ${signal}`
          : code === 0
            ? 'exited before the audio ended'
            : code !== null && code > 128
              ? `was killed by signal ${code - 128}`
              : `exited with code ${code}`;
        const detail = lastLogLine(this.stderrTail);
        const err = new SttError('engine-failed', `pocketsphinx ${how}${detail ? `: ${detail}` : ''}`, { cause: this.stdinError });
        this.events.error?.(err);
        reject(err);
      });
    });
    // finish() hands this promise to the caller; an unfinished stream's failure is reported via events.error.
    this.done.catch(() => {});
  }

  write(samples: Int16Array): void {
    if (this.state !== 'open' || samples.length === 0) return;
    const input = new Float32Array(samples.length);
    for (let i = 0; i < samples.length; i++) input[i] = samples[i]! / 32768;
    this.send(this.resampler ? this.resampler.process(input) : input);
  }

  finish(): Promise<RecognitionResult | null> {
    if (this.state === 'open') {
      this.state = 'finishing';
      if (this.resampler) this.send(this.resampler.flush());
      this.endRequested = true;
      if (!this.blocked) this.child.stdin.end();
    }
    return this.done;
  }

  abort(): void {
    if (this.state === 'aborted' || this.state === 'done') return;
    this.state = 'aborted';
    this.queued.length = 0;
    this.child.stdin.destroy();
    try {
      process.kill(-this.processGroup, 'SIGTERM');
    } catch (err) {
      // ESRCH: every process of the group has already exited, which is what abort() wants.
      if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
    }
  }

  /** Float samples at 16 kHz → s16le, with the noise floor for band-limited input; never blocks. */
  private send(samples: Float32Array): void {
    if (samples.length === 0) return;
    const buf = Buffer.allocUnsafe(samples.length * 2);
    for (let i = 0; i < samples.length; i++) {
      let v = samples[i]! * 32768;
      if (this.bandLimited) {
        // xorshift32: deterministic, so a given input always decodes the same way.
        let x = this.noiseSeed;
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        this.noiseSeed = x;
        v += ((x >>> 0) / 0xffffffff - 0.5) * 2 * NOISE_FLOOR_PEAK;
      }
      buf.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(v))), i * 2);
    }
    if (this.blocked) this.queued.push(buf);
    else if (!this.child.stdin.write(buf)) this.blocked = true;
  }

  private drainQueue(): void {
    this.blocked = false;
    while (this.queued.length > 0 && !this.blocked) {
      if (!this.child.stdin.write(this.queued.shift()!)) this.blocked = true;
    }
    if (!this.blocked && this.endRequested && this.state === 'finishing') this.child.stdin.end();
  }
}

const SEGMENT_LINE = /^(\S+) (-?\d+\.\d+) (-?\d+\.\d+) (\S+)$/;
/** Silence, sentence marks, noise words and null transitions: never part of a transcript. */
const FILLER = /^(<.*>|\[.*\]|\+.*\+|\(NULL\))$/;

/**
 * Reads the CLI's stdout. Per utterance it prints the hypothesis, then one line per segment,
 * fillers included. An utterance is complete once every hypothesis word has its segment line, which
 * needs no timer; trailing filler lines (`<sil>`, `</s>`) add nothing and are skipped.
 */
class DecoderOutputParser {
  private rest = '';
  private utterance: { words: string[]; segments: Array<{ word: string; start: number; end: number; posterior: number }> } | undefined;

  constructor(
    private readonly grammar: boolean,
    private readonly emit: (result: RecognitionResult) => void,
  ) {}

  push(text: string): void {
    const lines = (this.rest + text).split('\n');
    this.rest = lines.pop()!;
    for (const line of lines) this.line(line);
  }

  end(): void {
    if (this.rest !== '') this.line(this.rest);
    this.rest = '';
    this.complete();
  }

  private line(line: string): void {
    const seg = SEGMENT_LINE.exec(line);
    if (!seg) {
      this.complete();
      this.utterance = { words: line.trim().split(/\s+/).filter((w) => w !== ''), segments: [] };
      return;
    }
    const u = this.utterance;
    if (!u || FILLER.test(seg[1]!) || u.segments.length >= u.words.length) return;
    u.segments.push({ word: seg[1]!.replace(/\(\d+\)$/, ''), start: Number(seg[2]) * 1000, end: Number(seg[3]) * 1000 + 10, posterior: Number(seg[4]) });
    if (u.segments.length === u.words.length) this.complete();
  }

  private complete(): void {
    const u = this.utterance;
    this.utterance = undefined;
    if (!u || u.words.length === 0) return;
    // Segment times are frame starts at 100 frames/s from the first sample written (silence counted;
    // resampling keeps time), and a word's last frame ends 10 ms after its start.
    const segs = u.segments;
    if (segs.length === 0) return;
    const posteriors = segs.map((s) => s.posterior).filter((p) => Number.isFinite(p));
    this.emit({
      transcript: segs.map((s) => s.word).join(' '),
      confidence: this.grammar || posteriors.length === 0 ? 0 : Math.min(1, Math.max(0, Math.min(...posteriors))),
      startMs: Math.round(segs[0]!.start),
      endMs: Math.round(segs[segs.length - 1]!.end),
    });
  }
}

function lastLogLine(log: string): string {
  const lines = log.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return ([...lines].reverse().find((l) => /ERROR|FATAL/.test(l)) ?? lines[lines.length - 1] ?? '').slice(0, 300);
}
