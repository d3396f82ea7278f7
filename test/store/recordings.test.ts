import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PgliteStore } from '../../src/store/pglite-store.js';
import { recordingRelativePath } from '../../src/store/recording-paths.js';
import { StoreError, type RecordingRecord } from '../../src/store/store-types.js';
import { newSid } from '../../src/ids.js';

function recording(accountSid: string, callSid: string, i: number, over: Partial<RecordingRecord> = {}): RecordingRecord {
  const sid = newSid('RE');
  return {
    sid, accountSid, callSid, status: 'completed', source: 'RecordVerb', channels: 1, sampleRate: 8000, durationSeconds: 3,
    startTime: new Date(Date.UTC(2024, 4, 1, 10, 0, i)).toISOString(), filePath: recordingRelativePath(accountSid, sid),
    bytes: 48044, errorCode: null, ...over,
  };
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => err instanceof StoreError && err.code === code);
}

describe('PgliteStore recordings', () => {
  let dir: string;
  let store: PgliteStore;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'patchbay-rec-store-'));
    store = await PgliteStore.open(dir);
  });
  after(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates, reads and updates a recording; another account sees nothing', async () => {
    const acct = newSid('AC');
    const rec = recording(acct, newSid('CA'), 0, { status: 'in-progress', durationSeconds: null, bytes: null, channels: 2, source: 'DialVerb' });
    await store.createRecording(rec);
    const got = await store.getRecording(acct, rec.sid);
    assert.ok(got);
    const { dateCreated, dateUpdated, ...plain } = got;
    assert.deepEqual(plain, rec);
    assert.ok(!Number.isNaN(Date.parse(dateCreated)) && !Number.isNaN(Date.parse(dateUpdated)));
    assert.equal(await store.getRecording(newSid('AC'), rec.sid), null);
    assert.equal(await store.getRecording(acct, newSid('RE')), null);

    // A file larger than 2^31 bytes must survive the int8 round trip as a plain number.
    await store.updateRecording(rec.sid, { status: 'completed', durationSeconds: 70000, bytes: 4_000_000_044 });
    const done = await store.getRecording(acct, rec.sid);
    assert.equal(done?.status, 'completed');
    assert.equal(done?.durationSeconds, 70000);
    assert.strictEqual(done?.bytes, 4_000_000_044);
    assert.ok(Date.parse(done!.dateUpdated) >= Date.parse(dateUpdated));

    // Identity and owner cannot be patched (a patch must not move a recording to another account).
    const other = newSid('AC');
    await store.updateRecording(rec.sid, { accountSid: other, sid: newSid('RE') } as never);
    assert.equal(await store.getRecording(other, rec.sid), null);
    assert.ok(await store.getRecording(acct, rec.sid));

    await rejectsWith(store.updateRecording(newSid('RE'), { status: 'failed' }), 'RECORDING_NOT_FOUND');
    await rejectsWith(store.createRecording(rec), 'DUPLICATE_SID');
  });

  it('rejects invalid fields before they reach the database (a bad write fails alone)', async () => {
    const acct = newSid('AC');
    const call = newSid('CA');
    const good = recording(acct, call, 1);
    const bad: [string, Partial<RecordingRecord>][] = [
      ['sid', { sid: 'RE123' }],
      ['accountSid', { accountSid: 'nope' }],
      ['callSid', { callSid: newSid('RE') }],
      ['status', { status: 'paused' as never }],
      ['source', { source: 'Magic' as never }],
      ['channels', { channels: 3 as never }],
      ['sampleRate', { sampleRate: 12.5 }],
      ['durationSeconds', { durationSeconds: -1 }],
      ['bytes', { bytes: 1.5 }],
      ['startTime', { startTime: 'yesterday' }],
      ['filePath ..', { filePath: 'recordings/../../etc/passwd' }],
      ['filePath absolute', { filePath: '/etc/passwd' }],
      ['missing', { errorCode: undefined }],
    ];
    const results = await Promise.allSettled([store.createRecording(good), ...bad.map(([, over]) => store.createRecording(recording(acct, call, 2, over)))]);
    assert.equal(results[0]!.status, 'fulfilled', 'the valid write in the same batch commits');
    bad.forEach(([name], i) => {
      const r = results[i + 1]!;
      assert.ok(r.status === 'rejected' && r.reason instanceof StoreError && r.reason.code === 'INVALID_RECORD', name);
    });
    await rejectsWith(store.updateRecording(good.sid, { status: 'deleted' as never }), 'INVALID_RECORD');
    await rejectsWith(store.updateRecording(good.sid, { filePath: '../x.wav' }), 'INVALID_RECORD');
    const page = await store.listRecordings({ accountSid: acct, pageSize: 100 });
    assert.deepEqual(page.recordings.map((r) => r.sid), [good.sid]);
  });

  it('lists newest first with keyset paging, per account and per call', async () => {
    const acct = newSid('AC');
    const callA = newSid('CA');
    const callB = newSid('CA');
    const recs: RecordingRecord[] = [];
    for (let i = 0; i < 7; i++) recs.push(recording(acct, i % 2 ? callA : callB, i));
    // Two recordings in the same instant: the SID breaks the tie, and none is lost across pages.
    recs.push(recording(acct, callA, 6));
    await Promise.all([...recs, recording(newSid('AC'), callA, 3)].map((r) => store.createRecording(r)));

    const expected = [...recs].sort((a, b) => (a.startTime === b.startTime ? (a.sid < b.sid ? 1 : -1) : a.startTime < b.startTime ? 1 : -1)).map((r) => r.sid);
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await store.listRecordings({ accountSid: acct, pageSize: 3, pageToken: token });
      seen.push(...page.recordings.map((r) => r.sid));
      assert.ok(page.recordings.every((r) => r.accountSid === acct));
      token = page.nextPageToken ?? undefined;
      pages++;
    } while (token);
    assert.equal(pages, 3);
    assert.deepEqual(seen, expected);

    const ofA = await store.listRecordings({ accountSid: acct, callSid: callA, pageSize: 50 });
    assert.deepEqual(ofA.recordings.map((r) => r.sid), expected.filter((sid) => recs.find((r) => r.sid === sid)!.callSid === callA));
    assert.equal(ofA.nextPageToken, null);

    await rejectsWith(store.listRecordings({ accountSid: acct, pageSize: 0 }), 'INVALID_QUERY');
    await rejectsWith(store.listRecordings({ accountSid: acct, pageSize: 5, pageToken: 'garbage' }), 'INVALID_PAGE_TOKEN');
  });

  it('deletes only the account\'s own finished recordings', async () => {
    const acct = newSid('AC');
    const done = recording(acct, newSid('CA'), 0);
    const live = recording(acct, newSid('CA'), 1, { status: 'in-progress', durationSeconds: null, bytes: null });
    await Promise.all([store.createRecording(done), store.createRecording(live)]);

    assert.equal(await store.deleteRecording(newSid('AC'), done.sid), false, 'another account cannot delete it');
    assert.ok(await store.getRecording(acct, done.sid));
    await rejectsWith(store.deleteRecording(acct, live.sid), 'RECORDING_IN_PROGRESS');
    assert.ok(await store.getRecording(acct, live.sid));

    assert.equal(await store.deleteRecording(acct, done.sid), true);
    assert.equal(await store.getRecording(acct, done.sid), null);
    assert.equal(await store.deleteRecording(acct, done.sid), false);
  });

  it('lists every account\'s in-progress recordings, oldest first, for start-up recovery', async () => {
    const before = (await store.listInProgressRecordings()).map((r) => r.sid);
    const a = recording(newSid('AC'), newSid('CA'), 40, { status: 'in-progress', durationSeconds: null, bytes: null });
    const b = recording(newSid('AC'), newSid('CA'), 30, { status: 'in-progress', durationSeconds: null, bytes: null });
    await Promise.all([a, b, recording(newSid('AC'), newSid('CA'), 35)].map((r) => store.createRecording(r)));
    const open = (await store.listInProgressRecordings()).map((r) => r.sid).filter((sid) => !before.includes(sid));
    assert.deepEqual(open, [b.sid, a.sid]);
  });
});
