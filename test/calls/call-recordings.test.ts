/**
 * CallRecordings.flush: shutdown waits for recordings still being finished (file final, row
 * updated) before it drains callbacks and closes the store; otherwise the row update fails
 * ("store is closed") and the recording is left to crash recovery.
 */
import { afterEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CallRecordings } from '../../src/calls/call-recordings.js';
import type { RecordingPatch, RecordingRecord, RecordingStore } from '../../src/store/store-types.js';

const ACCOUNT = 'AC' + 'a'.repeat(32);
const CALL = 'CA' + 'b'.repeat(32);

/** Rows in memory; updates are logged in order. */
class MemoryRecordings implements Pick<RecordingStore, 'createRecording' | 'updateRecording'> {
  readonly rows = new Map<string, RecordingRecord>();
  async createRecording(rec: RecordingRecord): Promise<void> {
    this.rows.set(rec.sid, { ...rec });
  }
  async updateRecording(sid: string, patch: RecordingPatch): Promise<void> {
    const row = this.rows.get(sid);
    if (!row) throw new Error(`no recording ${sid}`);
    Object.assign(row, patch);
  }
}

describe('CallRecordings.flush', () => {
  let dir: string | null = null;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = null;
  });

  function make(): { recordings: CallRecordings; store: MemoryRecordings; dataDir: string } {
    dir = mkdtempSync(join(tmpdir(), 'call-recordings-'));
    const store = new MemoryRecordings();
    const recordings = new CallRecordings({
      store: store as unknown as RecordingStore,
      dataDir: dir,
      publicUrl: () => 'http://127.0.0.1:1',
      onError: (err) => assert.fail(err),
    });
    return { recordings, store, dataDir: dir };
  }

  it('resolves at once when nothing is recording', async () => {
    const { recordings } = make();
    await recordings.flush(60_000);
  });

  it('waits until a started recording is finished: file renamed, row completed, what follows queued', async () => {
    const { recordings, store, dataDir } = make();
    const handle = await recordings.start(ACCOUNT, CALL, 'RecordVerb');
    handle.write(new Int16Array(8000).fill(1000));
    let flushed = false;
    const flushing = recordings.flush(60_000).then(() => (flushed = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(flushed, false, 'an open recording holds the flush');

    // As the Record verb does once the call ended: finish, then queue its callback.
    let callbackQueued = false;
    void handle.finish().then(() => (callbackQueued = true));
    await flushing;
    const row = store.rows.get(handle.sid)!;
    assert.equal(row.status, 'completed');
    assert.equal(row.durationSeconds, 1);
    assert.ok(existsSync(join(dataDir, 'recordings', ACCOUNT, `${handle.sid}.wav`)));
    assert.ok(!existsSync(join(dataDir, 'recordings', ACCOUNT, `${handle.sid}.wav.part`)));
    assert.equal(callbackQueued, true, 'the verb continued (its callbacks queued) before flush resolved');
    // Settled recordings are forgotten: the next flush does not wait for this one again.
    await recordings.flush(60_000);
  });

  it('gives up after the timeout when a recording is never finished', async () => {
    const { recordings } = make();
    await recordings.start(ACCOUNT, CALL, 'RecordVerb');
    await recordings.flush(20); // would hang without the bound
  });
});
