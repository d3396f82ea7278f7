import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PgliteStore } from '../../src/store/pglite-store.js';
import { StoreError, type CallListQuery, type CallRecord, type CallStatus } from '../../src/store/store-types.js';
import { newSid } from '../../src/ids.js';

const BASE = Date.UTC(2024, 4, 1, 10, 0, 0);
const at = (minutes: number): string => new Date(BASE + minutes * 60_000).toISOString();

function call(accountSid: string, over: Partial<CallRecord> = {}): CallRecord {
  return {
    sid: newSid('CA'),
    accountSid,
    from: '+15550001111',
    to: '+15550002222',
    direction: 'inbound',
    status: 'completed',
    startTime: at(0),
    answerTime: null,
    endTime: at(1),
    durationSeconds: null,
    sipCallId: null,
    sipResponseCode: null,
    errorCode: null,
    errorMessage: null,
    endReason: null,
    parentCallSid: null,
    ...over,
  };
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => err instanceof StoreError && err.code === code);
}

const newestFirst = (a: CallRecord, b: CallRecord): number =>
  Date.parse(b.startTime) - Date.parse(a.startTime) || (b.sid > a.sid ? 1 : b.sid < a.sid ? -1 : 0);

describe('PgliteStore call list filters and deleteCall', () => {
  let dir: string;
  let store: PgliteStore;
  const acct = newSid('AC');
  const parents = [newSid('CA'), newSid('CA')];
  const recs: CallRecord[] = [];

  /** Every SID the store lists for `q`, walking pages of `pageSize`. */
  async function listAll(q: Omit<CallListQuery, 'accountSid' | 'pageSize' | 'pageToken'>, pageSize: number): Promise<string[]> {
    const sids: string[] = [];
    let token: string | undefined;
    do {
      const page = await store.listCalls({ ...q, accountSid: acct, pageSize, pageToken: token });
      assert.ok(page.calls.length <= pageSize);
      sids.push(...page.calls.map((c) => c.sid));
      token = page.nextPageToken ?? undefined;
    } while (token);
    return sids;
  }

  const expected = (keep: (r: CallRecord) => boolean): string[] => recs.filter(keep).sort(newestFirst).map((r) => r.sid);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'patchbay-call-list-'));
    store = await PgliteStore.open(dir);
    for (let i = 0; i < 30; i++) {
      const live = i % 4 === 0;
      recs.push(call(acct, {
        to: ['+15550002222', 'sip:bob@127.0.0.1', '1000'][i % 3],
        from: ['alice', 'carol'][i % 2],
        parentCallSid: i % 5 === 0 ? null : parents[i % 2],
        direction: i % 5 === 0 ? 'inbound' : 'outbound-dial',
        // pairs share a start minute, so paging must break ties by SID
        startTime: at(Math.floor(i / 2)),
        status: live ? 'in-progress' : 'completed',
        endTime: live ? null : at(Math.floor(i / 2) + (i % 7)),
      }));
    }
    await Promise.all(recs.map((r) => store.createCall(r)));
    // Another account's calls match every filter and must never show up.
    await store.createCall(call(newSid('AC'), { to: '1000', from: 'alice', parentCallSid: parents[0], startTime: at(3), endTime: at(4) }));
  });
  after(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('filters by To, From, ParentCallSid and status, alone and combined, across pages', async () => {
    assert.deepEqual(await listAll({ to: '1000' }, 3), expected((r) => r.to === '1000'));
    assert.deepEqual(await listAll({ to: 'sip:bob@127.0.0.1' }, 4), expected((r) => r.to === 'sip:bob@127.0.0.1'));
    assert.deepEqual(await listAll({ from: 'carol' }, 4), expected((r) => r.from === 'carol'));
    assert.deepEqual(await listAll({ parentCallSid: parents[0] }, 2), expected((r) => r.parentCallSid === parents[0]));
    const combined = expected((r) => r.from === 'alice' && r.parentCallSid === parents[0] && r.status === 'completed');
    assert.ok(combined.length >= 3, 'the combined filter still spans pages');
    assert.deepEqual(await listAll({ from: 'alice', parentCallSid: parents[0], status: 'completed' }, 2), combined);
    assert.deepEqual(await listAll({ to: 'nobody' }, 5), []);
    assert.deepEqual(await listAll({ to: '1000', from: 'alice', parentCallSid: parents[1] }, 5), expected((r) => r.to === '1000' && r.from === 'alice' && r.parentCallSid === parents[1]));
  });

  it('bounds start and end times: From inclusive, To exclusive; calls without an end never match end bounds', async () => {
    // Minute 3 holds two calls (i = 6, 7): both included at the lower bound, both excluded at the upper.
    const start = expected((r) => r.startTime >= at(3) && r.startTime < at(8));
    assert.equal(start.length, 10);
    assert.deepEqual(await listAll({ startTimeFrom: at(3), startTimeTo: at(8) }, 3), start);
    assert.deepEqual(await listAll({ startTimeFrom: at(14) }, 3), expected((r) => r.startTime >= at(14)));
    assert.deepEqual(await listAll({ startTimeTo: at(1) }, 3), expected((r) => r.startTime < at(1)));

    const ended = (r: CallRecord): boolean => r.endTime !== null && r.endTime >= at(5) && r.endTime < at(12);
    assert.ok(recs.some((r) => r.endTime === null && r.startTime >= at(5) && r.startTime < at(12)), 'live calls sit inside the window');
    assert.deepEqual(await listAll({ endTimeFrom: at(5), endTimeTo: at(12) }, 4), expected(ended));
    assert.deepEqual(await listAll({ endTimeFrom: at(0) }, 50), expected((r) => r.endTime !== null));

    const mixed = (r: CallRecord): boolean => r.to === '+15550002222' && r.startTime >= at(2) && r.endTime !== null && r.endTime < at(15);
    assert.deepEqual(await listAll({ to: '+15550002222', startTimeFrom: at(2), endTimeTo: at(15) }, 2), expected(mixed));

    // A zone other than Z, and a bare date (midnight UTC), mean the same instants.
    assert.deepEqual(await listAll({ startTimeFrom: '2024-05-01T12:03:00+02:00', startTimeTo: '2024-05-01T12:08:00.000+02:00' }, 50), start);
    assert.deepEqual(await listAll({ startTimeFrom: '2024-05-01', startTimeTo: '2024-05-02' }, 50), expected(() => true));
    assert.deepEqual(await listAll({ startTimeFrom: '2024-05-02' }, 50), []);
  });

  it('refuses malformed filters with INVALID_QUERY', async () => {
    const q = { accountSid: acct, pageSize: 10 };
    for (const bad of ['yesterday', '2024-02-30T00:00:00Z', '2024-05-01T10:00:00', '2024-05-01T24:00:00Z', '2024-5-1', '']) {
      await rejectsWith(store.listCalls({ ...q, startTimeFrom: bad }), 'INVALID_QUERY');
      await rejectsWith(store.listCalls({ ...q, endTimeTo: bad }), 'INVALID_QUERY');
    }
    await rejectsWith(store.listCalls({ ...q, to: 5 as unknown as string }), 'INVALID_QUERY');
    await rejectsWith(store.listCalls({ ...q, parentCallSid: null as unknown as string }), 'INVALID_QUERY');
    await rejectsWith(store.listCalls({ ...q, status: 'done' as CallStatus }), 'INVALID_QUERY');
  });

  it('deletes a finished call with its events, refuses a live one, and stays inside the account', async () => {
    const done = call(acct, { status: 'no-answer', startTime: at(100), endTime: at(101) });
    await store.createCall(done);
    await store.appendEvents(done.sid, [{ at: at(100), type: 'status', detail: { status: 'ringing' } }]);

    assert.equal(await store.deleteCall(newSid('AC'), done.sid), false, "another account's call reads as missing");
    assert.ok(await store.getCall(acct, done.sid));
    assert.equal(await store.deleteCall(acct, done.sid), true);
    assert.equal(await store.getCall(acct, done.sid), null);
    assert.equal(await store.deleteCall(acct, done.sid), false);
    // The events went with it: a new call reusing the SID starts with an empty timeline.
    await store.createCall(done);
    assert.deepEqual((await store.getCall(acct, done.sid))?.events, []);

    for (const status of ['queued', 'initiated', 'ringing', 'in-progress'] as const) {
      const live = call(acct, { status, startTime: at(200), endTime: null });
      await store.createCall(live);
      await rejectsWith(store.deleteCall(acct, live.sid), 'CALL_IN_PROGRESS');
      assert.equal((await store.getCall(acct, live.sid))?.status, status, 'a refused delete changes nothing');
      await store.updateCall(live.sid, { status: 'canceled', endTime: at(201) });
      assert.equal(await store.deleteCall(acct, live.sid), true, 'once finished it can go');
    }
    assert.equal(await store.deleteCall(acct, newSid('CA')), false);
  });
});
