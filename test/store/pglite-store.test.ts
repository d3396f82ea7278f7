import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PgliteStore } from '../../src/store/pglite-store.js';
import { StoreError, type CallRecord, type CallStatus } from '../../src/store/store-types.js';
import { newSid } from '../../src/ids.js';

function call(accountSid: string, over: Partial<CallRecord> = {}): CallRecord {
  return {
    sid: newSid('CA'),
    accountSid,
    from: '+15550001111',
    to: 'sip:alice@127.0.0.1',
    direction: 'inbound',
    status: 'ringing',
    startTime: '2024-05-01T10:00:00.000Z',
    answerTime: null,
    endTime: null,
    durationSeconds: null,
    sipCallId: 'abc@127.0.0.1',
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

describe('PgliteStore', () => {
  let dir: string;
  let store: PgliteStore;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'patchbay-store-'));
    store = await PgliteStore.open(dir);
  });
  after(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates, reads, updates calls and keeps other accounts out', async () => {
    const acct = newSid('AC');
    const rec = call(acct);
    await store.createCall(rec);
    const got = await store.getCall(acct, rec.sid);
    assert.ok(got);
    const { dateCreated, dateUpdated, events, ...plain } = got;
    assert.deepEqual(plain, rec);
    assert.deepEqual(events, []);
    assert.ok(!Number.isNaN(Date.parse(dateCreated)) && !Number.isNaN(Date.parse(dateUpdated)));

    assert.equal(await store.getCall(newSid('AC'), rec.sid), null, 'another account must not see the call');
    assert.equal(await store.getCall(acct, newSid('CA')), null);

    await store.updateCall(rec.sid, { status: 'in-progress', answerTime: '2024-05-01T10:00:03.250Z' });
    await store.updateCall(rec.sid, {
      status: 'completed', endTime: '2024-05-01T10:00:20.000Z', durationSeconds: 17, sipResponseCode: 200, endReason: 'caller-hangup',
    });
    const done = await store.getCall(acct, rec.sid);
    assert.equal(done?.status, 'completed');
    assert.equal(done?.answerTime, '2024-05-01T10:00:03.250Z');
    assert.equal(done?.durationSeconds, 17);
    assert.equal(done?.sipResponseCode, 200);
    assert.equal(done?.endReason, 'caller-hangup');
    assert.equal(done?.from, rec.from, 'fields not in the patch are untouched');
  });

  it('rejects duplicates, unknown calls and invalid values with coded errors', async () => {
    const acct = newSid('AC');
    const rec = call(acct);
    await store.createCall(rec);
    await rejectsWith(store.createCall(rec), 'DUPLICATE_SID');
    await rejectsWith(store.updateCall(newSid('CA'), { status: 'completed' }), 'CALL_NOT_FOUND');
    await rejectsWith(store.appendEvents(newSid('CA'), [{ at: new Date().toISOString(), type: 'x', detail: {} }]), 'CALL_NOT_FOUND');
    await rejectsWith(store.updateCall(rec.sid, { status: 'bogus' as CallStatus }), 'INVALID_RECORD');
    await rejectsWith(store.updateCall(rec.sid, { startTime: 'yesterday-ish' }), 'INVALID_RECORD');
    await rejectsWith(store.createCall(call(acct, { durationSeconds: 1.5 })), 'INVALID_RECORD');
    await rejectsWith(store.appendEvents(rec.sid, [{ at: 'now', type: 'x', detail: {} }]), 'INVALID_RECORD');
    assert.equal((await store.getCall(acct, rec.sid))?.status, 'ringing');
  });

  it('one failing write does not sink the others coalesced with it', async () => {
    const acct = newSid('AC');
    const a = call(acct);
    const dup = call(acct);
    await store.createCall(dup);
    const before = store.stats();
    const results = await Promise.allSettled([
      store.createCall(a),
      store.createCall(dup),
      store.updateCall(a.sid, { status: 'in-progress' }),
    ]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.equal(store.stats().messagesPosted - before.messagesPosted, 1, 'the three writes travel in one message');
    assert.equal((await store.getCall(acct, a.sid))?.status, 'in-progress');
  });

  it('appends events in order and returns them with the call', async () => {
    const acct = newSid('AC');
    const rec = call(acct);
    await store.createCall(rec);
    await store.appendEvents(rec.sid, [
      { at: '2024-05-01T10:00:00.001Z', type: 'sip.in', detail: { method: 'INVITE', cseq: 1 } },
      { at: '2024-05-01T10:00:00.002Z', type: 'webhook', detail: { url: 'http://127.0.0.1/voice', status: 200, nested: { a: [1, 2] } } },
    ]);
    await store.appendEvents(rec.sid, []);
    await store.appendEvents(rec.sid, [{ at: '2024-05-01T10:00:00.000Z', type: 'verb.start', detail: { verb: 'Say' } }]);
    const got = await store.getCall(acct, rec.sid);
    assert.deepEqual(got?.events, [
      { at: '2024-05-01T10:00:00.001Z', type: 'sip.in', detail: { method: 'INVITE', cseq: 1 } },
      { at: '2024-05-01T10:00:00.002Z', type: 'webhook', detail: { url: 'http://127.0.0.1/voice', status: 200, nested: { a: [1, 2] } } },
      // append order wins over timestamps: the timeline is what the engine reported, as reported
      { at: '2024-05-01T10:00:00.000Z', type: 'verb.start', detail: { verb: 'Say' } },
    ]);
  });

  it('finishCall writes the final fields and the timeline together, or nothing', async () => {
    const acct = newSid('AC');
    const rec = call(acct);
    await store.createCall(rec);
    const final: Partial<CallRecord> = { status: 'completed', endTime: '2024-05-01T10:01:00.000Z', durationSeconds: 60, endReason: 'caller-hangup' };
    // A time JavaScript accepts but PostgreSQL cannot store (before 4713 BC): the events' INSERT
    // fails inside the transaction, after the UPDATE ran; the UPDATE must be rolled back with it.
    const bad = [{ at: '2024-05-01T10:00:59.000Z', type: 'sip.in', detail: {} }, { at: '-271821-04-20T00:00:00.000Z', type: 'x', detail: {} }];
    await assert.rejects(store.finishCall(rec.sid, final, bad), (err: unknown) => err instanceof StoreError);
    const untouched = await store.getCall(acct, rec.sid);
    assert.equal(untouched?.status, 'ringing');
    assert.equal(untouched?.endTime, null);
    assert.deepEqual(untouched?.events, []);

    await store.finishCall(rec.sid, final, [{ at: '2024-05-01T10:00:59.000Z', type: 'sip.in', detail: { method: 'BYE' } }]);
    const done = await store.getCall(acct, rec.sid);
    assert.equal(done?.status, 'completed');
    assert.equal(done?.durationSeconds, 60);
    assert.deepEqual(done?.events, [{ at: '2024-05-01T10:00:59.000Z', type: 'sip.in', detail: { method: 'BYE' } }]);
    await rejectsWith(store.finishCall(newSid('CA'), final, []), 'CALL_NOT_FOUND');
    await rejectsWith(store.finishCall(rec.sid, final, [{ at: 'now', type: 'x', detail: {} }]), 'INVALID_RECORD');
  });

  it('a read issued right after an unawaited write sees it', async () => {
    const acct = newSid('AC');
    const rec = call(acct);
    const created = store.createCall(rec);
    const read = store.getCall(acct, rec.sid);
    await created;
    assert.equal((await read)?.sid, rec.sid);
  });

  it('lists newest first with stable cursors and a status filter', async () => {
    const acct = newSid('AC');
    const recs: CallRecord[] = [];
    for (let i = 0; i < 23; i++) {
      // pairs share a start time (tie broken by sid desc); one time has microsecond precision
      const t = i === 5 ? '2024-06-01T00:00:05.123456Z' : new Date(Date.UTC(2024, 5, 1, 0, 0, Math.floor(i / 2))).toISOString();
      recs.push(call(acct, { startTime: t, status: i % 3 === 0 ? 'completed' : 'ringing' }));
    }
    await Promise.all(recs.map((r) => store.createCall(r)));
    await store.createCall(call(newSid('AC'))); // another account's call never shows up

    const expected = [...recs]
      .sort((a, b) => (Date.parse(b.startTime) - Date.parse(a.startTime)) || (b.startTime > a.startTime ? 1 : b.startTime < a.startTime ? -1 : 0) || (b.sid > a.sid ? 1 : -1))
      .map((r) => r.sid);
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const page = await store.listCalls({ accountSid: acct, pageSize: 5, pageToken: token });
      assert.ok(page.calls.length <= 5);
      seen.push(...page.calls.map((c) => c.sid));
      token = page.nextPageToken ?? undefined;
      pages++;
    } while (token);
    assert.equal(pages, 5);
    assert.deepEqual(seen, expected);

    const completed = await store.listCalls({ accountSid: acct, status: 'completed', pageSize: 1000 });
    assert.deepEqual(completed.calls.map((c) => c.sid), expected.filter((sid) => recs.find((r) => r.sid === sid)?.status === 'completed'));
    assert.equal(completed.nextPageToken, null);

    const exact = await store.listCalls({ accountSid: acct, pageSize: 23 });
    assert.equal(exact.calls.length, 23);
    assert.equal(exact.nextPageToken, null, 'no next page when the page is exactly full');
  });

  it('rejects bad page tokens and sizes', async () => {
    const acct = newSid('AC');
    await rejectsWith(store.listCalls({ accountSid: acct, pageSize: 10, pageToken: 'garbage' }), 'INVALID_PAGE_TOKEN');
    const forged = 'PT' + Buffer.from(JSON.stringify(["2024-01-01'; DROP TABLE calls; --", 'CA1'])).toString('base64url');
    await rejectsWith(store.listCalls({ accountSid: acct, pageSize: 10, pageToken: forged }), 'INVALID_PAGE_TOKEN');
    await rejectsWith(store.listCalls({ accountSid: acct, pageSize: 0 }), 'INVALID_QUERY');
    await rejectsWith(store.listCalls({ accountSid: acct, pageSize: 1001 }), 'INVALID_QUERY');
    await rejectsWith(store.listCalls({ accountSid: acct, pageSize: 10, status: 'nope' as CallStatus }), 'INVALID_QUERY');
  });

  it('coalesces 500 concurrent creates and 500 updates into single transactions', async () => {
    const acct = newSid('AC');
    const recs = Array.from({ length: 500 }, (_, i) => call(acct, { startTime: new Date(Date.UTC(2024, 0, 1, 0, 0, 0, i)).toISOString() }));
    const s0 = store.stats();
    await Promise.all(recs.map((r) => store.createCall(r)));
    const s1 = store.stats();
    assert.equal(s1.messagesPosted - s0.messagesPosted, 1);
    assert.equal(s1.writeTransactions - s0.writeTransactions, 1);
    await Promise.all(recs.map((r) => store.updateCall(r.sid, { status: 'completed', durationSeconds: 1 })));
    const s2 = store.stats();
    assert.equal(s2.writeTransactions - s1.writeTransactions, 1);
    const page = await store.listCalls({ accountSid: acct, pageSize: 1000 });
    assert.equal(page.calls.length, 500);
    assert.ok(page.calls.every((c) => c.status === 'completed' && c.durationSeconds === 1));
  });

  it('refuses a second open of a data directory in use', async () => {
    await rejectsWith(PgliteStore.open(dir), 'STORE_LOCKED');
    assert.equal(await store.getAccount(newSid('AC')), null, 'the first store still works');
    // A live process other than us holding the lock: our parent (the test runner) stands in.
    const other = mkdtempSync(join(tmpdir(), 'patchbay-lock-'));
    try {
      writeFileSync(join(other, 'patchbay.lock'), `${process.ppid}\n`);
      await rejectsWith(PgliteStore.open(other), 'STORE_LOCKED');
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('manages accounts: generated, explicit, token replaced by configuration', async () => {
    const first = await store.ensureAccount({});
    assert.equal(first.created, true);
    assert.match(first.account.sid, /^AC[0-9a-f]{32}$/);
    assert.match(first.account.authToken, /^[0-9a-f]{32}$/);
    const again = await store.ensureAccount({});
    assert.deepEqual(again, { account: first.account, created: false });

    const sid = newSid('AC');
    const made = await store.ensureAccount({ sid, authToken: 'tok-1' });
    assert.equal(made.created, true);
    assert.equal(made.account.authToken, 'tok-1');
    const changed = await store.ensureAccount({ sid, authToken: 'tok-2' });
    assert.equal(changed.created, false);
    assert.equal((await store.getAccount(sid))?.authToken, 'tok-2');
    assert.equal(await store.getAccount(newSid('AC')), null);
    await rejectsWith(store.ensureAccount({ sid: 'ACnot-a-sid' }), 'INVALID_RECORD');
  });

  it("keeps each account's speech settings apart, replacing the whole document", async () => {
    const a = (await store.ensureAccount({ sid: newSid('AC') })).account.sid;
    const b = (await store.ensureAccount({ sid: newSid('AC') })).account.sid;
    assert.deepEqual(await store.getSpeechSettings(a), {});
    await store.setSpeechSettings(a, { recognizer: 'deepgram', language: 'en-GB', deepgram: { apiKey: 'dg-key', url: 'ws://127.0.0.1:9/' } });
    assert.deepEqual(await store.getSpeechSettings(a), { recognizer: 'deepgram', language: 'en-GB', deepgram: { apiKey: 'dg-key', url: 'ws://127.0.0.1:9/' } });
    assert.deepEqual(await store.getSpeechSettings(b), {});
    await store.setSpeechSettings(a, { language: 'fr-FR' });
    assert.deepEqual(await store.getSpeechSettings(a), { language: 'fr-FR' });
    assert.equal(await store.getSpeechSettings(newSid('AC')), null);
    await rejectsWith(store.setSpeechSettings(newSid('AC'), {}), 'ACCOUNT_NOT_FOUND');
  });
});

describe('PgliteStore persistence and recovery', () => {
  it('keeps data across close/reopen and closes interrupted calls at start-up', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'patchbay-store-'));
    try {
      const acct = newSid('AC');
      const s1 = await PgliteStore.open(dir);
      const queued = call(acct, { status: 'queued', direction: 'outbound-api' });
      const ringing = call(acct, { status: 'ringing' });
      const talking = call(acct, { status: 'in-progress', answerTime: '2024-05-01T10:00:02.000Z' });
      const finished = call(acct, { status: 'busy', endTime: '2024-05-01T10:00:01.000Z', sipResponseCode: 486 });
      for (const c of [queued, ringing, talking, finished]) await s1.createCall(c);
      await s1.close();
      await rejectsWith(s1.getCall(acct, queued.sid), 'STORE_CLOSED');
      // A lock left by a crashed run that had our PID (containers: PID 1 every time) is stale.
      writeFileSync(join(dir, 'patchbay.lock'), `${process.pid}\n`);

      const s2 = await PgliteStore.open(dir);
      try {
        assert.equal((await s2.listCalls({ accountSid: acct, pageSize: 10 })).calls.length, 4);
        const n = await s2.closeInterruptedCalls('server-restart', '2024-05-01T10:01:00.500Z');
        assert.equal(n, 3);
        const t = await s2.getCall(acct, talking.sid);
        assert.equal(t?.status, 'failed');
        assert.equal(t?.endReason, 'server-restart');
        assert.equal(t?.endTime, '2024-05-01T10:01:00.500Z');
        assert.equal(t?.durationSeconds, 58);
        assert.deepEqual(t?.events, [{ at: '2024-05-01T10:01:00.500Z', type: 'status', detail: { status: 'failed', reason: 'server-restart' } }]);
        const q = await s2.getCall(acct, queued.sid);
        assert.equal(q?.status, 'failed');
        assert.equal(q?.durationSeconds, null, 'never answered: no duration');
        const f = await s2.getCall(acct, finished.sid);
        assert.equal(f?.status, 'busy', 'terminal calls are left alone');
        assert.equal(f?.endReason, null);
        assert.equal(await s2.closeInterruptedCalls('server-restart', new Date().toISOString()), 0);
      } finally {
        await s2.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
