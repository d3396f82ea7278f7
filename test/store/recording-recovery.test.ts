import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { decodeWav } from '../../src/media/wav.js';
import { WavFileWriter } from '../../src/media/wav-file-writer.js';
import { PgliteStore } from '../../src/store/pglite-store.js';
import { recordingAbsolutePath, recordingRelativePath } from '../../src/store/recording-paths.js';
import { closeInterruptedRecordings, recordingDurationSeconds } from '../../src/store/recording-recovery.js';
import type { RecordingRecord } from '../../src/store/store-types.js';
import { newSid } from '../../src/ids.js';

describe('closeInterruptedRecordings', () => {
  let dir: string;
  let store: PgliteStore;
  const acct = newSid('AC');

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'patchbay-rec-recovery-'));
    store = await PgliteStore.open(join(dir, 'db'));
  });
  after(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function live(i: number): Promise<RecordingRecord & { abs: string }> {
    const sid = newSid('RE');
    const rec: RecordingRecord = {
      sid, accountSid: acct, callSid: newSid('CA'), status: 'in-progress', source: 'RecordVerb', channels: 1, sampleRate: 8000,
      durationSeconds: null, startTime: new Date(Date.UTC(2024, 0, 1, 0, 0, i)).toISOString(), filePath: recordingRelativePath(acct, sid),
      bytes: null, errorCode: null,
    };
    await store.createRecording(rec);
    return { ...rec, abs: recordingAbsolutePath(dir, rec.filePath) };
  }

  it('completes what has audio, marks empty ones absent and missing/corrupt ones failed; leaves finished ones alone', async () => {
    // 1. Crashed mid-recording: an unfinished .part with 2.5 s of audio.
    const partial = await live(1);
    const w1 = await WavFileWriter.create(partial.abs, { sampleRate: 8000, channels: 1 });
    w1.write(new Int16Array(20000).fill(1234));
    await w1.flush();
    // 2. Crashed after the file was finished but before the row was updated.
    const renamed = await live(2);
    const w2 = await WavFileWriter.create(renamed.abs, { sampleRate: 8000, channels: 1 });
    w2.write(new Int16Array(4000).fill(-5));
    await w2.finish();
    // 3. Crashed before any audio arrived.
    const empty = await live(3);
    const w3 = await WavFileWriter.create(empty.abs, { sampleRate: 8000, channels: 1 });
    // 4. The file never got created.
    const missing = await live(4);
    // 5. Something else is in the way.
    const corrupt = await live(5);
    mkdirSync(dirname(corrupt.abs), { recursive: true });
    writeFileSync(`${corrupt.abs}.part`, 'definitely not a wav file, but long enough to have a header');
    // 6. A finished recording is none of recovery's business.
    const finished = await live(6);
    await store.updateRecording(finished.sid, { status: 'completed', bytes: 44, durationSeconds: 0 });

    const report = await closeInterruptedRecordings(store, dir);
    assert.deepEqual(report.completed, [partial.sid, renamed.sid]);
    assert.deepEqual(report.absent, [empty.sid]);
    assert.deepEqual(report.failed.map((f) => f.sid), [missing.sid, corrupt.sid]);
    assert.match(report.failed[0]!.reason, /no file/);
    assert.match(report.failed[1]!.reason, /header/);

    const got = async (sid: string) => (await store.getRecording(acct, sid))!;
    const p = await got(partial.sid);
    assert.deepEqual([p.status, p.durationSeconds, p.bytes], ['completed', 3, 44 + 40000]); // 2.5 s rounds to 3
    assert.ok(!existsSync(`${partial.abs}.part`));
    assert.equal(decodeWav(readFileSync(partial.abs)).samples[0]!.length, 20000);
    const r = await got(renamed.sid);
    assert.deepEqual([r.status, r.durationSeconds, r.bytes], ['completed', 1, 44 + 8000]);
    const e = await got(empty.sid);
    assert.deepEqual([e.status, e.durationSeconds, e.bytes], ['absent', 0, null]);
    assert.ok(!existsSync(empty.abs) && !existsSync(`${empty.abs}.part`), 'no empty file is left behind');
    assert.equal((await got(missing.sid)).status, 'failed');
    assert.equal((await got(corrupt.sid)).status, 'failed');
    assert.ok(existsSync(`${corrupt.abs}.part`), 'a corrupt file is kept for inspection');
    assert.equal((await got(finished.sid)).status, 'completed');
    assert.equal((await got(finished.sid)).bytes, 44);

    assert.deepEqual(await closeInterruptedRecordings(store, dir), { completed: [], absent: [], failed: [] }, 'nothing left open');
    await Promise.all([w1.abort(), w3.abort()]); // release handles (their files were already moved)
  });

  it('rounds durations to the nearest second', () => {
    assert.deepEqual([0, 499, 500, 1499, 2500, 59_999].map(recordingDurationSeconds), [0, 0, 1, 1, 3, 60]);
  });
});
