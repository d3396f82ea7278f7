/**
 * Recordings made on calls: a WAV file in the data directory written as the audio arrives, and its
 * record in the store (in-progress → completed, absent when nothing was recorded, failed when the
 * file could not be written). The RecordingUrl given to apps is the Twilio-shaped API path, served
 * only with the account's credentials.
 */
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { WavFileWriter } from '../media/wav-file-writer.js';
import { newSid } from '../ids.js';
import type { RecordingSource, RecordingStore } from '../store/store-types.js';
import { recordingAbsolutePath, recordingRelativePath, recordingUrl } from '../store/recording-paths.js';
import { recordingDurationSeconds } from '../store/recording-recovery.js';
import type { RecordingHandle, RecordingOutcome } from '../verbs/call-control.js';

const SAMPLE_RATE = 8000;

export interface CallRecordingsDeps {
  store: RecordingStore;
  dataDir: string;
  /** Base URL of the HTTP API as apps reach it; read when a recording starts. */
  publicUrl: () => string;
  /** Store failures after the call moved on are reported here (the recording itself is on disk). */
  onError: (err: Error) => void;
}

export class CallRecordings {
  /** Recordings started and not yet settled (finished, or failed to start): what flush() waits for. */
  private readonly open = new Set<Promise<void>>();

  constructor(private readonly deps: CallRecordingsDeps) {}

  /**
   * Resolves once every recording started so far has settled: its file final and its row updated
   * (or `timeoutMs` passed). For shutdown, after the calls ended: their verbs finish the recordings
   * a moment later, and closing the store first would leave the rows for crash recovery. It
   * resolves a turn after the last one settled, so what the verbs do next (the recording status
   * callback, the action request) is already queued when the caller moves on to drain callbacks.
   */
  async flush(timeoutMs: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
    try {
      while (this.open.size > 0) {
        if ((await Promise.race([Promise.all([...this.open]), timeout])) === 'timeout') return;
      }
    } finally {
      clearTimeout(timer);
    }
    await new Promise<void>((resolve) => setImmediate(resolve));
  }

  /** `channels: 2` writes interleaved stereo (a dual-channel Dial recording: caller, then callee). */
  async start(accountSid: string, callSid: string, source: RecordingSource, channels: 1 | 2 = 1): Promise<RecordingHandle> {
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    this.open.add(settled);
    void settled.then(() => this.open.delete(settled));
    try {
      return await this.begin(accountSid, callSid, source, channels, settle);
    } catch (err) {
      settle();
      throw err;
    }
  }

  private async begin(accountSid: string, callSid: string, source: RecordingSource, channels: 1 | 2, settle: () => void): Promise<RecordingHandle> {
    const sid = newSid('RE');
    const filePath = recordingRelativePath(accountSid, sid);
    const absolute = recordingAbsolutePath(this.deps.dataDir, filePath);
    const startTime = new Date();
    await mkdir(dirname(absolute), { recursive: true });
    await this.deps.store.createRecording({
      sid, accountSid, callSid, status: 'in-progress', source, channels, sampleRate: SAMPLE_RATE,
      durationSeconds: null, startTime: startTime.toISOString(), filePath, bytes: null, errorCode: null,
    });
    let writer: WavFileWriter;
    try {
      writer = await WavFileWriter.create(absolute, { sampleRate: SAMPLE_RATE, channels });
    } catch (err) {
      await this.deps.store.updateRecording(sid, { status: 'failed' }).catch(this.deps.onError);
      throw err;
    }
    const store = this.deps.store;
    const onError = this.deps.onError;
    let finished: Promise<RecordingOutcome> | null = null;
    return {
      sid,
      url: recordingUrl(this.deps.publicUrl(), accountSid, sid),
      startTime,
      write: (samples: Int16Array) => {
        if (!finished && !writer.error) writer.write(samples);
      },
      finish: () =>
        (finished ??= (async (): Promise<RecordingOutcome> => {
          try {
            return await finishRecording();
          } finally {
            settle();
          }
        })()),
    };

    async function finishRecording(): Promise<RecordingOutcome> {
      if (writer.frames === 0 || writer.error) {
        await writer.abort().catch(onError);
        const status = writer.error ? 'failed' : 'absent';
        await store.updateRecording(sid, { status, durationSeconds: 0 }).catch(onError);
        return { status, durationSeconds: 0 };
      }
      try {
        const result = await writer.finish();
        const durationSeconds = recordingDurationSeconds(result.durationMs);
        await store.updateRecording(sid, { status: 'completed', durationSeconds, bytes: result.bytes }).catch(onError);
        return { status: 'completed', durationSeconds };
      } catch (err) {
        onError(err as Error);
        await store.updateRecording(sid, { status: 'failed' }).catch(onError);
        return { status: 'failed', durationSeconds: 0 };
      }
    }
  }
}
