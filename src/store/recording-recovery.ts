/**
 * Start-up recovery for recordings a crash left 'in-progress'. Call it after the store opened and
 * before calls are accepted (nothing is recording yet, so every 'in-progress' row is an orphan).
 *
 * What is honest for each one:
 * - the file (or its `.part`) holds audio → 'completed', with the audio up to the crash. The
 *   writer's `.part` is a valid WAV at every moment, so this is the same outcome as a caller who
 *   hung up at that instant, which is also 'completed'; the RecordingUrl apps may already hold
 *   keeps working.
 * - a valid file with no audio → 'absent' (Twilio's word for "nothing was recorded"), the empty
 *   file removed.
 * - no file, or one that is not this writer's WAV → 'failed'; a corrupt file is left in place for
 *   a human to look at.
 */
import { unlink } from 'node:fs/promises';
import { WavFileWriter } from '../media/wav-file-writer.js';
import { recordingAbsolutePath } from './recording-paths.js';
import type { RecordingStore } from './store-types.js';

export interface RecordingRecoveryReport {
  completed: string[];
  absent: string[];
  failed: { sid: string; reason: string }[];
}

/** Whole seconds as recordings report them (RecordingDuration): rounded to the nearest second. */
export function recordingDurationSeconds(durationMs: number): number {
  return Math.round(durationMs / 1000);
}

export async function closeInterruptedRecordings(
  store: Pick<RecordingStore, 'listInProgressRecordings' | 'updateRecording'>,
  dataDir: string,
): Promise<RecordingRecoveryReport> {
  const report: RecordingRecoveryReport = { completed: [], absent: [], failed: [] };
  for (const rec of await store.listInProgressRecordings()) {
    let outcome: Awaited<ReturnType<typeof WavFileWriter.recover>>;
    let path: string;
    try {
      path = recordingAbsolutePath(dataDir, rec.filePath);
      outcome = await WavFileWriter.recover(path);
    } catch (err) {
      // Per recording: one bad file must not keep the others (or the server) from starting.
      await store.updateRecording(rec.sid, { status: 'failed', bytes: null, durationSeconds: null });
      report.failed.push({ sid: rec.sid, reason: (err as Error).message });
      continue;
    }
    if (!outcome) {
      await store.updateRecording(rec.sid, { status: 'failed', bytes: null, durationSeconds: null });
      report.failed.push({ sid: rec.sid, reason: `no file at ${rec.filePath}` });
    } else if (outcome.frames === 0) {
      await unlink(path);
      await store.updateRecording(rec.sid, { status: 'absent', bytes: null, durationSeconds: 0 });
      report.absent.push(rec.sid);
    } else {
      await store.updateRecording(rec.sid, {
        status: 'completed',
        bytes: outcome.bytes,
        durationSeconds: recordingDurationSeconds(outcome.durationMs),
        channels: outcome.channels,
        sampleRate: outcome.sampleRate,
      });
      report.completed.push(rec.sid);
    }
  }
  return report;
}
