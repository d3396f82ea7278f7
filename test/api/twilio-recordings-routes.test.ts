import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { installErrorHandlers } from '../../src/api/api-errors.js';
import { twilioRecordingsRoutes } from '../../src/api/twilio-recordings-routes.js';
import { newSid } from '../../src/ids.js';
import { PgliteStore } from '../../src/store/pglite-store.js';
import { recordingAbsolutePath, recordingRelativePath } from '../../src/store/recording-paths.js';
import type { Account, CallRecord, RecordingRecord } from '../../src/store/store-types.js';

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

describe('Twilio Recordings list and delete', () => {
  let dir: string;
  let store: PgliteStore;
  let app: FastifyInstance;
  let alice: Account;
  let bob: Account;
  const calls: CallRecord[] = [];
  const recs: RecordingRecord[] = [];
  let bobRec: RecordingRecord;
  let liveRec: RecordingRecord;
  const asAlice = () => ({ authorization: basic(alice.sid, 'alice-secret') });
  const base = () => `/2010-04-01/Accounts/${alice.sid}`;

  async function recording(accountSid: string, callSid: string, i: number, status: RecordingRecord['status'] = 'completed'): Promise<RecordingRecord> {
    const sid = newSid('RE');
    const filePath = recordingRelativePath(accountSid, sid);
    const abs = recordingAbsolutePath(dir, filePath);
    mkdirSync(dirname(abs), { recursive: true });
    writeFileSync(abs, Buffer.alloc(64));
    const rec: RecordingRecord = {
      sid, accountSid, callSid, status, source: 'RecordVerb', channels: 1, sampleRate: 8000, durationSeconds: status === 'completed' ? 2 : null,
      startTime: new Date(Date.UTC(2024, 0, 1, 12, 0, i)).toISOString(), filePath, bytes: status === 'completed' ? 64 : null, errorCode: null,
    };
    await store.createRecording(rec);
    return rec;
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'patchbay-twrec-'));
    store = await PgliteStore.open(join(dir, 'db'));
    alice = (await store.ensureAccount({ sid: newSid('AC'), authToken: 'alice-secret' })).account;
    bob = (await store.ensureAccount({ sid: newSid('AC'), authToken: 'bob-secret' })).account;
    for (const accountSid of [alice.sid, alice.sid, bob.sid]) {
      const c: CallRecord = {
        sid: newSid('CA'), accountSid, from: 'a', to: 'b', direction: 'inbound', status: 'completed', startTime: '2024-01-01T12:00:00.000Z',
        answerTime: null, endTime: null, durationSeconds: null, sipCallId: null, sipResponseCode: null, errorCode: null, errorMessage: null,
        endReason: null, parentCallSid: null,
      };
      await store.createCall(c);
      calls.push(c);
    }
    for (let i = 0; i < 3; i++) recs.push(await recording(alice.sid, calls[i % 2]!.sid, i));
    bobRec = await recording(bob.sid, calls[2]!.sid, 5);
    liveRec = await recording(alice.sid, calls[0]!.sid, 9, 'in-progress');
    app = Fastify({ logger: false });
    installErrorHandlers(app);
    await app.register(twilioRecordingsRoutes, { prefix: '/2010-04-01/Accounts/:AccountSid', store, dataDir: dir, publicBaseUrl: 'https://pb.example' });
    await app.ready();
  });
  after(async () => {
    await app?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the account’s recordings newest first, filtered by CallSid, paged with relative URIs', async () => {
    const all = (await app.inject({ url: `${base()}/Recordings.json`, headers: asAlice() })).json() as { recordings: { sid: string; account_sid: string }[] };
    assert.deepEqual(all.recordings.map((r) => r.sid), [liveRec.sid, recs[2]!.sid, recs[1]!.sid, recs[0]!.sid]);
    const first = (await app.inject({ url: `${base()}/Recordings.json?CallSid=${calls[0]!.sid}&PageSize=1`, headers: asAlice() })).json() as { recordings: { sid: string }[]; next_page_uri: string };
    assert.deepEqual(first.recordings.map((r) => r.sid), [liveRec.sid]);
    assert.match(first.next_page_uri, new RegExp(`^${base()}/Recordings\\.json\\?CallSid=${calls[0]!.sid}&PageSize=1&Page=1&PageToken=`));
    const rest: string[] = [];
    let url: string | null = first.next_page_uri;
    while (url) {
      const page = (await app.inject({ url, headers: asAlice() })).json() as { recordings: { sid: string }[]; next_page_uri: string | null };
      rest.push(...page.recordings.map((r) => r.sid));
      url = page.next_page_uri;
    }
    assert.deepEqual(rest, [recs[2]!.sid, recs[0]!.sid]);
  });

  it('refuses filters it does not implement, and unknown ones, by name', async () => {
    const res = await app.inject({ url: `${base()}/Recordings.json?DateCreated=2024-01-01`, headers: asAlice() });
    assert.equal(res.statusCode, 400);
    assert.match((res.json() as { message: string }).message, /DateCreated is not supported/);
    assert.equal((await app.inject({ url: `${base()}/Recordings.json?Foo=1`, headers: asAlice() })).statusCode, 400);
  });

  it('deletes a recording’s file and record (204), refuses one still recording (409), 404 for foreign or unknown', async () => {
    const target = recs[0]!;
    const file = recordingAbsolutePath(dir, target.filePath);
    assert.ok(existsSync(file));
    const res = await app.inject({ method: 'DELETE', url: `${base()}/Recordings/${target.sid}.json`, headers: asAlice() });
    assert.equal(res.statusCode, 204);
    assert.equal(existsSync(file), false);
    assert.equal(await store.getRecording(alice.sid, target.sid), null);
    assert.equal((await app.inject({ method: 'DELETE', url: `${base()}/Recordings/${target.sid}.json`, headers: asAlice() })).statusCode, 404);
    const live = await app.inject({ method: 'DELETE', url: `${base()}/Recordings/${liveRec.sid}.json`, headers: asAlice() });
    assert.equal(live.statusCode, 409);
    assert.ok(existsSync(recordingAbsolutePath(dir, liveRec.filePath)));
    assert.equal((await app.inject({ method: 'DELETE', url: `${base()}/Recordings/${bobRec.sid}.json`, headers: asAlice() })).statusCode, 404);
    assert.ok(existsSync(recordingAbsolutePath(dir, bobRec.filePath)));
  });
});
