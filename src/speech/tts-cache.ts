/**
 * A caching TextToSpeech wrapper: IVR prompts repeat, so each distinct (engine, voice, language,
 * text) is synthesized once, kept in a memory LRU bounded by bytes, and written to disk as
 * `<cacheDir>/<sha256>.wav` so it survives restarts. Concurrent identical requests share one
 * synthesis. Cloud engines benefit most: a hit costs no API call.
 *
 * Streaming: on a miss, `synthesizeStream` passes the inner engine's chunks on as they arrive while
 * keeping them for the cache (the clip is stored once the stream ends, never a partial one); a hit
 * yields the whole cached clip at once. A listener that joins a synthesis under way first gets the
 * chunks already produced. When every listener has left early, the inner synthesis is aborted.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeWav, encodeWav } from '../media/wav.js';
import {
  audioChunks,
  SharedSynthesis,
  TtsError,
  type SynthesisRequest,
  type SynthesizedAudio,
  type TextToSpeech,
} from './text-to-speech.js';

export interface CachedTtsOptions {
  cacheDir: string;
  /** Bound on synthesized audio kept in memory (default 32 MiB). */
  maxMemoryBytes?: number;
  /** Disk-cache I/O failures do not fail a synthesis; they are reported here (default: process warning). */
  onCacheError?: (err: Error) => void;
}

export interface CachedTtsStats {
  memoryHits: number;
  diskHits: number;
  /** Requests that reached the inner engine (concurrent duplicates count once). */
  syntheses: number;
}

export class CachedTts implements TextToSpeech {
  readonly name: string;
  readonly stats: CachedTtsStats = { memoryHits: 0, diskHits: 0, syntheses: 0 };
  private readonly memory = new Map<string, SynthesizedAudio>();
  private memoryBytes = 0;
  private readonly inflight = new Map<string, SharedSynthesis>();
  private readonly maxMemoryBytes: number;
  private readonly onCacheError: (err: Error) => void;
  private dirReady: Promise<unknown> | undefined;

  constructor(
    private readonly inner: TextToSpeech,
    private readonly opts: CachedTtsOptions,
  ) {
    // Transparent: the cached engine answers exactly as the inner one would.
    this.name = inner.name;
    this.maxMemoryBytes = opts.maxMemoryBytes ?? 32 * 1024 * 1024;
    this.onCacheError = opts.onCacheError ?? ((err) => process.emitWarning(err));
  }

  /** The cache key: every input that changes the audio. */
  keyFor(req: SynthesisRequest): string {
    const material = JSON.stringify([this.inner.name, req.voice, req.language, req.ssml === true, req.text]);
    return createHash('sha256').update(material).digest('hex');
  }

  synthesize(req: SynthesisRequest, signal?: AbortSignal): Promise<SynthesizedAudio> {
    if (signal?.aborted) return Promise.reject(new TtsError('aborted', 'synthesis aborted', { cause: signal.reason }));
    const key = this.keyFor(req);
    const hit = this.memoryHit(key);
    if (hit) return Promise.resolve(hit);
    // The shared synthesis is not tied to one caller: aborting only releases that caller.
    return this.shared(key, req).join(signal);
  }

  async *synthesizeStream(req: SynthesisRequest, signal?: AbortSignal): AsyncGenerator<SynthesizedAudio> {
    if (signal?.aborted) throw new TtsError('aborted', 'synthesis aborted', { cause: signal.reason });
    const key = this.keyFor(req);
    const hit = this.memoryHit(key);
    if (hit) {
      yield hit;
      return;
    }
    yield* this.shared(key, req).listen(signal);
  }

  async close(): Promise<void> {
    await this.inner.close?.();
  }

  private memoryHit(key: string): SynthesizedAudio | undefined {
    const hit = this.memory.get(key);
    if (!hit) return undefined;
    this.memory.delete(key); // re-insert: Map order is the LRU order
    this.memory.set(key, hit);
    this.stats.memoryHits++;
    return hit;
  }

  private shared(key: string, req: SynthesisRequest): SharedSynthesis {
    let job = this.inflight.get(key);
    if (!job || job.abandoned) {
      const path = join(this.opts.cacheDir, `${key}.wav`);
      let fromDisk = false;
      const created: SharedSynthesis = new SharedSynthesis(
        (signal) => this.produce(path, req, signal, () => (fromDisk = true)),
        {
          // Stored before any listener sees the end, so a finished synthesis is always a hit.
          onComplete: async (audio) => {
            this.remember(key, audio);
            if (!fromDisk) await this.writeStored(path, audio);
          },
        },
      );
      job = created;
      this.inflight.set(key, job);
      const done = (): void => {
        if (this.inflight.get(key) === created) this.inflight.delete(key);
      };
      job.whole.then(done, done);
    }
    return job;
  }

  private async *produce(path: string, req: SynthesisRequest, signal: AbortSignal, onDiskHit: () => void): AsyncGenerator<SynthesizedAudio> {
    const stored = await this.readStored(path);
    if (stored) {
      this.stats.diskHits++;
      onDiskHit();
      yield stored;
      return;
    }
    this.stats.syntheses++;
    yield* audioChunks(this.inner, req, signal);
  }

  private async readStored(path: string): Promise<SynthesizedAudio | undefined> {
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.onCacheError(asError(err));
      return undefined;
    }
    try {
      const wav = decodeWav(bytes);
      const floats = wav.samples[0]!;
      const samples = new Int16Array(floats.length);
      // encodeWav wrote 16-bit PCM and decodeWav divided by 32768: this inverts it exactly.
      for (let i = 0; i < floats.length; i++) samples[i] = Math.max(-32768, Math.min(32767, Math.round(floats[i]! * 32768)));
      return { samples, sampleRate: wav.sampleRate };
    } catch (err) {
      this.onCacheError(new Error(`unreadable TTS cache file ${path}; synthesizing again`, { cause: err }));
      return undefined;
    }
  }

  /** Write-then-rename, so a crash never leaves a truncated WAV under the final name. */
  private async writeStored(path: string, audio: SynthesizedAudio): Promise<void> {
    const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
    try {
      this.dirReady ??= mkdir(this.opts.cacheDir, { recursive: true });
      await this.dirReady;
      await writeFile(tmp, encodeWav(audio.samples, audio.sampleRate));
      await rename(tmp, path);
    } catch (err) {
      this.dirReady = undefined;
      this.onCacheError(asError(err));
      await rm(tmp, { force: true }).catch(() => undefined); // best-effort cleanup of our own temp file
    }
  }

  private remember(key: string, audio: SynthesizedAudio): void {
    const size = audio.samples.byteLength;
    if (size > this.maxMemoryBytes) return;
    this.memory.set(key, audio);
    this.memoryBytes += size;
    for (const [oldKey, old] of this.memory) {
      if (this.memoryBytes <= this.maxMemoryBytes) break;
      this.memory.delete(oldKey);
      this.memoryBytes -= old.samples.byteLength;
    }
  }
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
