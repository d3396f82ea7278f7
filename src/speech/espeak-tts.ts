/**
 * The embedded, offline text-to-speech engine: eSpeak NG compiled to WebAssembly.
 *
 * One synthesis is ~100–200 ms of synchronous WASM, far too long for the main thread, which paces
 * RTP for every call every 20 ms. So synthesis runs in a small pool of worker threads (one by
 * default), started lazily on first use; requests queue for a free worker. Idle workers are unref'd
 * so an engine that is never closed does not keep the process alive.
 *
 * Twilio voice names are mapped to eSpeak voices: the language picks the eSpeak language voice and
 * a female Twilio voice adds eSpeak's "+f3" variant.
 *
 * SSML: eSpeak NG reads SSML itself (`-m`); the <Say> fragment is first rewritten to the elements it
 * knows (ssml-subset.ts: <lang> becomes <voice xml:lang>, <phoneme> keeps its words).
 */
import { Worker } from 'node:worker_threads';
import type { EspeakJob, EspeakResult } from './espeak-worker.js';
import { espeakSsml } from './ssml-subset.js';
import { TtsError, type SynthesisRequest, type SynthesizedAudio, type TextToSpeech } from './text-to-speech.js';

export interface EspeakTtsOptions {
  /** Worker threads (default 1). */
  workers?: number;
  /** Output rate (default 8000: what the phone line needs, resampled inside the worker). */
  sampleRate?: number;
  /** Speaking rate (eSpeak's default is 175; a little slower is clearer over G.711). */
  wordsPerMinute?: number;
}

/** Longest accepted text; Twilio caps <Say> at 4,096 characters. */
const MAX_TEXT_CHARS = 20_000;

/** Language voices in the bundled espeak-ng-data (espeak-ng --voices). */
const ESPEAK_LANGUAGES = new Set(
  ('af am an ar as az ba be bg bn bpy bs ca chr-us-qaaa-x-west cmn cmn-latn-pinyin cs cv cy da de el en-029 ' +
    'en-gb en-gb-scotland en-gb-x-gbclan en-gb-x-gbcwmd en-gb-x-rp en-us en-us-nyc eo es es-419 et eu fa fa-latn ' +
    'fi fr-be fr-ch fr-fr ga gd gn grc gu hak haw he hi hr ht hu hy hyw ia id io is it ja jbo ka kk kl kn ko kok ' +
    'ku ky la lb lfn lt ltg lv mi mk ml mr ms mt mto my nb nci ne nl nog om or pa pap piqd pl pt pt-br py qdb qu ' +
    'quc qya ro ru ru-cl ru-lv sd shn si sjn sk sl smj sq sr sv sw ta te th tk tn tr tt ug uk ur uz vi ' +
    'vi-vn-x-central vi-vn-x-south yue').split(' '),
);

/** Regional tags eSpeak has no voice for, mapped to the closest one it has. */
const LANGUAGE_ALIASES: Record<string, string> = {
  en: 'en-us', 'en-au': 'en-gb', 'en-nz': 'en-gb', 'en-ie': 'en-gb', 'en-in': 'en-gb', 'en-za': 'en-gb',
  'en-ca': 'en-us', 'en-gb-wls': 'en-gb', fr: 'fr-fr', 'fr-ca': 'fr-fr', 'es-mx': 'es-419', 'es-us': 'es-419',
  'es-ar': 'es-419', 'es-co': 'es-419', 'es-cl': 'es-419', 'pt-pt': 'pt', zh: 'cmn', 'zh-cn': 'cmn',
  'zh-tw': 'cmn', 'cmn-cn': 'cmn', 'cmn-tw': 'cmn', 'zh-hk': 'yue', 'yue-cn': 'yue', 'nb-no': 'nb', no: 'nb',
  'nn-no': 'nb', 'arb': 'ar', 'fil': 'id', 'iw': 'he',
};

/** Amazon Polly voices that are male (every other Polly voice is taken as female, as most are). */
const POLLY_MALE = new Set(
  ('matthew joey justin kevin stephen gregory brian arthur russell geraint mathieu remi liam hans daniel ' +
    'enrique sergio andres pedro miguel giorgio adriano ricardo cristiano thiago ruben jacek jan maxim mads ' +
    'karl takumi zayd hala-m').split(' '),
);

/** Google en-US voices by letter (other languages' letters do not follow one pattern). */
const GOOGLE_EN_US_MALE = new Set(['A', 'B', 'D', 'I', 'J']);

function normalizeLanguage(tag: string): string {
  const lower = tag.trim().toLowerCase().replace(/_/g, '-');
  if (ESPEAK_LANGUAGES.has(lower)) return lower;
  if (LANGUAGE_ALIASES[lower]) return LANGUAGE_ALIASES[lower];
  const primary = lower.split('-')[0] ?? '';
  if (ESPEAK_LANGUAGES.has(primary)) return primary;
  if (LANGUAGE_ALIASES[primary]) return LANGUAGE_ALIASES[primary];
  return 'en-us';
}

function isFemale(voice: string): boolean {
  const v = voice.trim();
  const lower = v.toLowerCase();
  if (lower === 'man') return false;
  if (lower === 'woman' || lower === 'alice') return true;
  if (lower.startsWith('polly.')) {
    const name = lower.slice(6).replace(/-(neural|generative|long-form|standard)$/, '');
    return !POLLY_MALE.has(name);
  }
  const google = /^google\.en-us-[a-z0-9]+-([a-z])$/i.exec(v);
  if (google) return !GOOGLE_EN_US_MALE.has(google[1]!.toUpperCase());
  if (lower.startsWith('google.')) return true; // most Google voices outside en-US are female
  return lower.includes('female'); // anything else: Twilio's default voice, "man"
}

/**
 * The eSpeak voice for a Twilio voice + language. `espeak.<voice>` passes an eSpeak voice through
 * (e.g. "espeak.en-gb-scotland+m3"); Google voice names carry their own language, which wins.
 */
export function espeakVoiceFor(voice: string, language: string): string {
  const passthrough = /^espeak\.([a-z0-9-]+(?:\+[a-z0-9]+)?)$/i.exec(voice.trim());
  if (passthrough) return passthrough[1]!.toLowerCase();
  const googleLanguage = /^google\.([a-z]{2,3}-[a-z]{2})-/i.exec(voice.trim());
  const lang = normalizeLanguage(googleLanguage ? googleLanguage[1]! : language || 'en-US');
  return isFemale(voice) ? `${lang}+f3` : lang;
}

interface PendingJob {
  job: EspeakJob;
  resolve: (audio: SynthesizedAudio) => void;
  reject: (err: Error) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

interface Slot {
  worker: Worker;
  current?: PendingJob;
}

/**
 * Starts the worker next to this module: espeak-worker.js when compiled. In development this file is
 * .ts (run through tsx) and so is the worker; on Node 20 `--import tsx` in a worker's execArgv does
 * not take effect before its entry module loads, so a bootstrap registers tsx's loader first.
 */
function startWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./espeak-worker.js', import.meta.url));
  const entry = JSON.stringify(new URL('./espeak-worker.ts', import.meta.url).href);
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  const bootstrap = `import(${tsx}).then((t) => { t.register(); return import(${entry}); });`;
  return new Worker(bootstrap, { eval: true });
}

export class EspeakTts implements TextToSpeech {
  readonly name = 'espeak-ng';
  private readonly size: number;
  private readonly sampleRate: number;
  private readonly wordsPerMinute: number;
  private readonly slots: Slot[] = [];
  private readonly queue: PendingJob[] = [];
  private nextId = 1;
  private closed = false;

  constructor(opts: EspeakTtsOptions = {}) {
    this.size = Math.max(1, Math.floor(opts.workers ?? 1));
    this.sampleRate = opts.sampleRate ?? 8000;
    this.wordsPerMinute = opts.wordsPerMinute ?? 165;
  }

  synthesize(req: SynthesisRequest, signal?: AbortSignal): Promise<SynthesizedAudio> {
    if (this.closed) return Promise.reject(new TtsError('closed', 'EspeakTts is closed'));
    if (req.text.length > MAX_TEXT_CHARS) {
      return Promise.reject(new TtsError('invalid-request', `text is ${req.text.length} characters (limit ${MAX_TEXT_CHARS})`));
    }
    if (signal?.aborted) return Promise.reject(new TtsError('aborted', 'synthesis aborted', { cause: signal.reason }));
    let text = req.text;
    if (req.ssml) {
      try {
        text = espeakSsml(req.text, true);
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const job: EspeakJob = {
      id: this.nextId++,
      text,
      voice: espeakVoiceFor(req.voice, req.language),
      ssml: req.ssml ?? false,
      wordsPerMinute: this.wordsPerMinute,
      sampleRate: this.sampleRate,
    };
    return new Promise<SynthesizedAudio>((resolve, reject) => {
      const pending: PendingJob = { job, resolve, reject };
      if (signal) {
        pending.signal = signal;
        // A queued job is dropped; a running one cannot be interrupted (WASM is synchronous), so
        // its caller is released now and the result is discarded when it arrives.
        pending.onAbort = () => {
          const i = this.queue.indexOf(pending);
          if (i >= 0) this.queue.splice(i, 1);
          this.settle(pending, new TtsError('aborted', 'synthesis aborted', { cause: signal.reason }));
        };
        signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      this.queue.push(pending);
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const pending of this.queue.splice(0)) this.settle(pending, new TtsError('closed', 'EspeakTts closed'));
    const slots = this.slots.splice(0);
    for (const slot of slots) if (slot.current) this.settle(slot.current, new TtsError('closed', 'EspeakTts closed'));
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => !s.current);
      if (!slot && this.slots.length < this.size) slot = this.spawn();
      if (!slot) return;
      const pending = this.queue.shift()!;
      slot.current = pending;
      slot.worker.ref();
      slot.worker.postMessage(pending.job);
    }
  }

  private spawn(): Slot {
    const worker = startWorker();
    const slot: Slot = { worker };
    worker.on('message', (result: EspeakResult) => {
      const pending = slot.current;
      if (!pending || pending.job.id !== result.id) return; // a job abandoned by close()
      slot.current = undefined;
      worker.unref();
      if (result.ok) this.settle(pending, undefined, { samples: result.samples, sampleRate: result.sampleRate });
      else this.settle(pending, new TtsError('engine-failed', result.message));
      this.dispatch();
    });
    const fail = (err: Error): void => {
      const i = this.slots.indexOf(slot);
      if (i < 0) return; // already removed (close() or an earlier 'error' for this worker)
      this.slots.splice(i, 1);
      if (slot.current) this.settle(slot.current, new TtsError('engine-failed', `espeak worker died: ${err.message}`, { cause: err }));
      slot.current = undefined;
      this.dispatch(); // a replacement worker takes the queue
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
    this.slots.push(slot);
    return slot;
  }

  private settle(pending: PendingJob, err: Error | undefined, audio?: SynthesizedAudio): void {
    if (pending.signal && pending.onAbort) pending.signal.removeEventListener('abort', pending.onAbort);
    if (err) pending.reject(err);
    else pending.resolve(audio!);
  }
}
