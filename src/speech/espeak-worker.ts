/**
 * Worker thread that runs eSpeak NG (Emscripten build of the espeak-ng CLI) off the main event loop.
 *
 * The 18 MB WebAssembly module is compiled once per worker; every request then instantiates it
 * afresh (fast with a compiled module) and runs the CLI's main() once, writing a WAV into the
 * instance's in-memory file system. A fresh instance per request means no C global state leaks
 * between utterances. The WAV is converted here, in the worker, to the rate the caller asked for.
 *
 * Protocol: parent → worker `EspeakJob`; worker → parent `EspeakResult` (samples transferred).
 */
import { readFile } from 'node:fs/promises';
import { parentPort } from 'node:worker_threads';
import { decodeWav } from '../media/wav.js';
import { resample } from '../media/resampler.js';

export interface EspeakJob {
  id: number;
  text: string;
  /** eSpeak voice, e.g. "en-us" or "fr-fr+f3". */
  voice: string;
  ssml: boolean;
  wordsPerMinute: number;
  sampleRate: number;
}

export type EspeakResult =
  | { id: number; ok: true; samples: Int16Array; sampleRate: number }
  | { id: number; ok: false; message: string };

/** The part of the Emscripten module object this worker uses. */
interface EspeakModule {
  FS: { writeFile(path: string, data: string): void; readFile(path: string): Uint8Array };
}
interface EspeakModuleArgs {
  arguments: string[];
  instantiateWasm(imports: WebAssembly.Imports, done: (instance: WebAssembly.Instance, module: WebAssembly.Module) => void): object;
  preRun: Array<(m: EspeakModule) => void>;
  print(line: string): void;
  printErr(line: string): void;
  quit(status: number, toThrow: unknown): never;
}
type EspeakFactory = (args: EspeakModuleArgs) => Promise<EspeakModule>;

async function loadEngine(): Promise<{ factory: EspeakFactory; wasm: WebAssembly.Module }> {
  const specifier: string = 'espeak-ng'; // a plain string: the package ships no type declarations
  const jsUrl = import.meta.resolve(specifier);
  const mod = (await import(jsUrl)) as { default: EspeakFactory };
  const wasm = await WebAssembly.compile(await readFile(new URL('espeak-ng.wasm', jsUrl)));
  return { factory: mod.default, wasm };
}

const engine = loadEngine();

async function synthesize(job: EspeakJob): Promise<{ samples: Int16Array; sampleRate: number }> {
  const { factory, wasm } = await engine;
  const stderr: string[] = [];
  let exitStatus = 0;
  // Text goes through a file, never argv, so text starting with "-" is not taken for an option.
  const args = ['-w', '/out.wav', '-b', '1', '-s', String(job.wordsPerMinute), '-v', job.voice];
  if (job.ssml) args.push('-m');
  args.push('-f', '/in.txt');
  // If instantiation fails the factory's promise never settles; this one rejects instead.
  let instantiateFailed!: (err: unknown) => void;
  const failed = new Promise<never>((_, reject) => (instantiateFailed = reject));
  const running = factory({
    arguments: args,
    instantiateWasm(imports, done) {
      WebAssembly.instantiate(wasm, imports).then((inst) => done(inst, wasm), instantiateFailed);
      return {};
    },
    preRun: [(m) => m.FS.writeFile('/in.txt', job.text)],
    print: () => undefined, // the CLI prints nothing useful on stdout when writing a WAV
    printErr: (line) => stderr.push(line),
    // The default would set process.exitCode; an exit() inside espeak only ends this run.
    quit: (status, toThrow) => {
      exitStatus = status;
      throw toThrow;
    },
  });
  const instance = await Promise.race([running, failed]);
  let wav: Uint8Array;
  try {
    wav = instance.FS.readFile('/out.wav');
  } catch {
    const reason = stderr.find((l) => !l.startsWith('program exited')) ?? `exit status ${exitStatus}`;
    throw new Error(`espeak-ng produced no audio: ${reason}`);
  }
  const decoded = decodeWav(Buffer.from(wav.buffer, wav.byteOffset, wav.byteLength));
  const mono = decoded.samples[0] ?? new Float32Array(0);
  const floats = decoded.sampleRate === job.sampleRate ? mono : resample(mono, decoded.sampleRate, job.sampleRate);
  const samples = new Int16Array(floats.length);
  for (let i = 0; i < floats.length; i++) {
    const s = Math.round(floats[i]! * 32767);
    samples[i] = s > 32767 ? 32767 : s < -32768 ? -32768 : s;
  }
  return { samples, sampleRate: job.sampleRate };
}

const port = parentPort;
if (!port) throw new Error('espeak-worker must run as a worker thread');
port.on('message', (job: EspeakJob) => {
  synthesize(job).then(
    ({ samples, sampleRate }) => {
      const result: EspeakResult = { id: job.id, ok: true, samples, sampleRate };
      port.postMessage(result, [samples.buffer as ArrayBuffer]); // allocated here: never shared
    },
    (err: unknown) => {
      const result: EspeakResult = { id: job.id, ok: false, message: err instanceof Error ? err.message : String(err) };
      port.postMessage(result);
    },
  );
});
