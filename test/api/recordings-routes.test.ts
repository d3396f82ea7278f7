import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createHttpServer } from '../../src/api/http-server.js';
import { MetricsRegistry } from '../../src/api/metrics.js';
import { parseByteRange } from '../../src/api/recording-media.js';
import { WavFileWriter } from '../../src/media/wav-file-writer.js';
import { PgliteStore } from '../../src/store/pglite-store.js';
import { recordingAbsolutePath, recordingRelativePath } from '../../src/store/recording-paths.js';
import type { Account, CallRecord, RecordingRecord, StoredRecordingRecord } from '../../src/store/store-types.js';
import { newSid } from '../../src/ids.js';

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const BASE = 'https://voice.example.com/pb';

function call(accountSid: string): CallRecord {
  return {
    sid: newSid('CA'), accountSid, from: '+15550001111', to: '+15550002222', direction: 'inbound', status: 'completed',
    startTime: '2024-01-01T12:00:00.000Z', answerTime: null, endTime: null, durationSeconds: null,
    sipCallId: null, sipResponseCode: null, errorCode: null, errorMessage: null, endReason: null, parentCallSid: null,
  };
}

describe('recordings API', () => {
  let dir: string;
  let store: PgliteStore;
  let app: FastifyInstance;
  let alice: Account;
  let bob: Account;
  let aliceCalls: CallRecord[];
  const aliceRecs: RecordingRecord[] = [];
  let bobRec: RecordingRecord;
  let liveRec: RecordingRecord;
  const asAlice = () => ({ authorization: basic(alice.sid, 'alice-secret') });
  const asBob = () => ({ authorization: basic(bob.sid, 'bob-secret') });

  /** A real recording: the row, and a WAV written by the writer the Record verb uses. */
  async function record(accountSid: string, callSid: string, i: number, seconds: number): Promise<RecordingRecord> {
    const sid = newSid('RE');
    const filePath = recordingRelativePath(accountSid, sid);
    const w = await WavFileWriter.create(recordingAbsolutePath(dir, filePath), { sampleRate: 8000, channels: 1 });
    const pcm = new Int16Array(8000 * seconds);
    for (let k = 0; k < pcm.length; k++) pcm[k] = ((k * (i + 3) * 101) % 60000) - 30000; // distinct per recording
    w.write(pcm);
    const res = await w.finish();
    const rec: RecordingRecord = {
      sid, accountSid, callSid, status: 'completed', source: 'RecordVerb', channels: 1, sampleRate: 8000, durationSeconds: seconds,
      startTime: new Date(Date.UTC(2024, 0, 1, 12, 0, i)).toISOString(), filePath, bytes: res.bytes, errorCode: null,
    };
    await store.createRecording(rec);
    return rec;
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'patchbay-rec-api-'));
    store = await PgliteStore.open(join(dir, 'db'));
    alice = (await store.ensureAccount({ sid: newSid('AC'), authToken: 'alice-secret' })).account;
    bob = (await store.ensureAccount({ sid: newSid('AC'), authToken: 'bob-secret' })).account;
    aliceCalls = [call(alice.sid), call(alice.sid)];
    const bobCall = call(bob.sid);
    await Promise.all([...aliceCalls, bobCall].map((c) => store.createCall(c)));
    for (let i = 0; i < 5; i++) aliceRecs.push(await record(alice.sid, aliceCalls[i % 2]!.sid, i, 1));
    bobRec = await record(bob.sid, bobCall.sid, 9, 1);
    const liveSid = newSid('RE');
    liveRec = {
      sid: liveSid, accountSid: alice.sid, callSid: aliceCalls[0]!.sid, status: 'in-progress', source: 'RecordVerb', channels: 2, sampleRate: 8000,
      durationSeconds: null, startTime: '2024-01-01T11:00:00.000Z', filePath: recordingRelativePath(alice.sid, liveSid), bytes: null, errorCode: null,
    };
    await store.createRecording(liveRec);
    app = createHttpServer({ store, dataDir: dir, publicBaseUrl: BASE, accountSid: alice.sid, isReady: () => true, metrics: () => '', registry: new MetricsRegistry() });
    await app.ready();
  });
  after(async () => {
    await app?.close();
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const fileOf = (rec: RecordingRecord) => readFileSync(recordingAbsolutePath(dir, rec.filePath));
  const twilioPath = (rec: RecordingRecord, ext = '') => `/2010-04-01/Accounts/${rec.accountSid}/Recordings/${rec.sid}${ext}`;

  it('every route needs the account\'s credentials (401 in each API\'s own error style)', async () => {
    const rec = aliceRecs[0]!;
    const urls = ['/v1/recordings', `/v1/recordings/${rec.sid}`, `/v1/recordings/${rec.sid}/media`, `/v1/calls/${rec.callSid}/recordings`];
    for (const url of urls) {
      for (const headers of [{}, { authorization: basic(alice.sid, 'bob-secret') }]) {
        const res = await app.inject({ url, headers });
        assert.equal(res.statusCode, 401, url);
        assert.equal((res.json() as { moreInfo: string }).moreInfo, 'https://www.twilio.com/docs/errors/20003');
        assert.ok(!String(res.headers['content-type']).startsWith('audio/'));
      }
    }
    const del = await app.inject({ method: 'DELETE', url: `/v1/recordings/${rec.sid}` });
    assert.equal(del.statusCode, 401);
    assert.ok(existsSync(recordingAbsolutePath(dir, rec.filePath)));
    for (const ext of ['', '.wav', '.json']) {
      const res = await app.inject({ url: twilioPath(rec, ext) });
      assert.equal(res.statusCode, 401, ext);
      assert.deepEqual(res.json(), {
        code: 20003, message: 'Authenticate', status: 401, more_info: 'https://www.twilio.com/docs/errors/20003', detail: 'Your AccountSid or AuthToken was incorrect.',
      });
    }
  });

  it('lists the account\'s own recordings newest first, following nextPageUri, filtered by call', async () => {
    const expected = [...aliceRecs].reverse().map((r) => r.sid).concat(liveRec.sid); // live one started earliest
    const seen: string[] = [];
    let url: string | null = '/v1/recordings?pageSize=2';
    while (url) {
      const res: { statusCode: number; json(): unknown } = await app.inject({ url, headers: asAlice() });
      assert.equal(res.statusCode, 200);
      const body = res.json() as { recordings: Record<string, unknown>[]; nextPageUri: string | null };
      for (const r of body.recordings) {
        assert.equal(r.accountSid, alice.sid);
        assert.equal(r.filePath, undefined, 'the on-disk location is not part of the API');
      }
      seen.push(...body.recordings.map((r) => r.sid as string));
      url = body.nextPageUri;
    }
    assert.deepEqual(seen, expected);

    const callSid = aliceCalls[1]!.sid;
    const byCall = (await app.inject({ url: `/v1/recordings?callSid=${callSid}`, headers: asAlice() })).json() as { recordings: { sid: string }[] };
    assert.deepEqual(byCall.recordings.map((r) => r.sid), aliceRecs.filter((r) => r.callSid === callSid).reverse().map((r) => r.sid));
    const nested = await app.inject({ url: `/v1/calls/${callSid}/recordings?pageSize=1`, headers: asAlice() });
    assert.equal(nested.statusCode, 200);
    const nb = nested.json() as { recordings: { sid: string }[]; nextPageUri: string };
    assert.deepEqual(nb.recordings.map((r) => r.sid), [byCall.recordings[0]!.sid]);
    assert.match(nb.nextPageUri, new RegExp(`^/v1/calls/${callSid}/recordings\\?pageSize=1&pageToken=PT`));

    // Bob's call is not Alice's to look into; nor is a call that does not exist.
    assert.equal((await app.inject({ url: `/v1/calls/${bobRec.callSid}/recordings`, headers: asAlice() })).statusCode, 404);
    assert.equal((await app.inject({ url: `/v1/calls/${newSid('CA')}/recordings`, headers: asAlice() })).statusCode, 404);
    const bobs = (await app.inject({ url: `/v1/recordings?callSid=${bobRec.callSid}`, headers: asAlice() })).json() as { recordings: unknown[] };
    assert.deepEqual(bobs.recordings, []);

    for (const q of ['callSid=nope', 'pageSize=0', 'pageToken=garbage']) {
      const res = await app.inject({ url: `/v1/recordings?${q}`, headers: asAlice() });
      assert.equal(res.statusCode, 400, q);
      assert.equal((res.json() as { code: number }).code, 20001, q);
    }
  });

  it('fetches one recording as camelCase JSON with a mediaUrl', async () => {
    const rec = aliceRecs[2]!;
    const res = await app.inject({ url: `/v1/recordings/${rec.sid}`, headers: asAlice() });
    assert.equal(res.statusCode, 200);
    const { dateCreated, dateUpdated, ...body } = res.json() as Record<string, unknown>;
    const { filePath: _omitted, ...visible } = rec;
    assert.deepEqual(body, { ...visible, mediaUrl: `${BASE}/v1/recordings/${rec.sid}/media` });
    assert.ok(!Number.isNaN(Date.parse(String(dateCreated))) && !Number.isNaN(Date.parse(String(dateUpdated))));
  });

  it('serves the media: the exact file bytes as audio/wav, byte ranges for seeking, HEAD without a body', async () => {
    const rec = aliceRecs[1]!;
    const file = fileOf(rec);
    const url = `/v1/recordings/${rec.sid}/media`;
    const full = await app.inject({ url, headers: asAlice() });
    assert.equal(full.statusCode, 200);
    assert.equal(full.headers['content-type'], 'audio/wav');
    assert.equal(full.headers['accept-ranges'], 'bytes');
    assert.equal(Number(full.headers['content-length']), file.length);
    assert.deepEqual(full.rawPayload, file);

    const ranges: [string, number, number][] = [['bytes=0-43', 0, 43], ['bytes=1000-', 1000, file.length - 1], ['bytes=-100', file.length - 100, file.length - 1], ['bytes=16000-99999999', 16000, file.length - 1]];
    for (const [range, start, end] of ranges) {
      const res = await app.inject({ url, headers: { ...asAlice(), range } });
      assert.equal(res.statusCode, 206, range);
      assert.equal(res.headers['content-range'], `bytes ${start}-${end}/${file.length}`, range);
      assert.deepEqual(res.rawPayload, file.subarray(start, end + 1), range);
    }
    const past = await app.inject({ url, headers: { ...asAlice(), range: `bytes=${file.length}-` } });
    assert.equal(past.statusCode, 416);
    assert.equal(past.headers['content-range'], `bytes */${file.length}`);
    // Several ranges, or an If-Range naming other bytes: the whole file, never a wrong slice.
    for (const headers of [{ range: 'bytes=0-1,5-6' }, { range: 'bytes=0-1', 'if-range': '"stale"' }]) {
      const res = await app.inject({ url, headers: { ...asAlice(), ...headers } });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.rawPayload, file);
    }
    const matching = await app.inject({ url, headers: { ...asAlice(), range: 'bytes=0-3', 'if-range': String(full.headers.etag) } });
    assert.equal(matching.statusCode, 206);
    assert.equal(matching.body, 'RIFF');

    const head = await app.inject({ method: 'HEAD', url, headers: asAlice() });
    assert.equal(head.statusCode, 200);
    assert.equal(head.headers['content-type'], 'audio/wav');
    assert.equal(Number(head.headers['content-length']), file.length);
    assert.equal(head.rawPayload.length, 0);
  });

  it('another account\'s recording is a 404 everywhere, never a 403 and never the file', async () => {
    const probes: { url: string; method?: 'DELETE' }[] = [
      { url: `/v1/recordings/${bobRec.sid}` },
      { url: `/v1/recordings/${bobRec.sid}/media` },
      { url: `/v1/recordings/${bobRec.sid}`, method: 'DELETE' as const },
      { url: twilioPath(bobRec) },
      { url: `${twilioPath(bobRec)}.wav` },
      { url: `${twilioPath(bobRec)}.json` },
      // Alice's own account in the path, Bob's recording SID.
      { url: `/2010-04-01/Accounts/${alice.sid}/Recordings/${bobRec.sid}` },
    ];
    for (const p of probes) {
      const res = await app.inject({ method: p.method ?? 'GET', url: p.url, headers: asAlice() });
      assert.equal(res.statusCode, 404, `${p.method ?? 'GET'} ${p.url}`);
      assert.match(String(res.headers['content-type']), /^application\/json/);
      assert.equal((res.json() as { code: number }).code, 20404);
    }
    // Bob's own credentials on Alice's account path do not reach Alice's recording either.
    assert.equal((await app.inject({ url: twilioPath(aliceRecs[0]!), headers: asBob() })).statusCode, 404);
    assert.ok(existsSync(recordingAbsolutePath(dir, bobRec.filePath)), 'the failed DELETE left Bob\'s file alone');
    assert.ok(await store.getRecording(bob.sid, bobRec.sid));
  });

  it('serves the Twilio-shaped RecordingUrl: WAV without extension and with .wav, resource JSON with .json', async () => {
    const rec = aliceRecs[3]!;
    const file = fileOf(rec);
    for (const ext of ['', '.wav']) {
      const res = await app.inject({ url: twilioPath(rec, ext), headers: asAlice() });
      assert.equal(res.statusCode, 200, ext);
      assert.equal(res.headers['content-type'], 'audio/wav');
      assert.deepEqual(res.rawPayload, file);
    }
    const ranged = await app.inject({ url: twilioPath(rec), headers: { ...asAlice(), range: 'bytes=40-43' } });
    assert.equal(ranged.statusCode, 206);
    assert.equal(ranged.rawPayload.readUInt32LE(0), file.length - 44, 'the data size from the header');

    const res = await app.inject({ url: twilioPath(rec, '.json'), headers: asAlice() });
    assert.equal(res.statusCode, 200);
    const stored = (await store.getRecording(alice.sid, rec.sid)) as StoredRecordingRecord;
    const rfc = (iso: string) => new Date(iso).toUTCString().replace('GMT', '+0000');
    assert.deepEqual(res.json(), {
      account_sid: alice.sid, api_version: '2010-04-01', call_sid: rec.callSid, conference_sid: null,
      date_created: rfc(stored.dateCreated), date_updated: rfc(stored.dateUpdated), start_time: 'Mon, 01 Jan 2024 12:00:03 +0000',
      duration: '1', sid: rec.sid, price: null, price_unit: 'USD', status: 'completed', channels: 1, source: 'RecordVerb', error_code: null,
      encryption_details: null, uri: `/2010-04-01/Accounts/${alice.sid}/Recordings/${rec.sid}.json`, subresource_uris: {},
      media_url: `${BASE}/2010-04-01/Accounts/${alice.sid}/Recordings/${rec.sid}`,
    });
    assert.match((res.json() as { date_created: string }).date_created, /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);

    const mp3 = await app.inject({ url: twilioPath(rec, '.mp3'), headers: asAlice() });
    assert.equal(mp3.statusCode, 404);
    assert.match((mp3.json() as { message: string }).message, /stored as WAV/);
    const other = await app.inject({ url: `${twilioPath(rec)}.xml`, headers: asAlice() });
    assert.equal(other.statusCode, 404);
    assert.equal((other.json() as { more_info: string }).more_info, 'https://www.twilio.com/docs/errors/20404');
  });

  it('an in-progress recording has JSON but no media yet, and cannot be deleted', async () => {
    const json = await app.inject({ url: `/v1/recordings/${liveRec.sid}`, headers: asAlice() });
    assert.equal(json.statusCode, 200);
    assert.equal((json.json() as { status: string }).status, 'in-progress');
    for (const url of [`/v1/recordings/${liveRec.sid}/media`, twilioPath(liveRec)]) {
      const res = await app.inject({ url, headers: asAlice() });
      assert.equal(res.statusCode, 404, url);
      assert.match((res.json() as { message: string }).message, /no media \(status in-progress\)/);
    }
    const tj = (await app.inject({ url: twilioPath(liveRec, '.json'), headers: asAlice() })).json() as { duration: null; status: string };
    assert.deepEqual([tj.duration, tj.status], [null, 'in-progress']);
    const del = await app.inject({ method: 'DELETE', url: `/v1/recordings/${liveRec.sid}`, headers: asAlice() });
    assert.equal(del.statusCode, 409);
    assert.equal((del.json() as { code: number }).code, 20409);
    assert.ok(await store.getRecording(alice.sid, liveRec.sid));
  });

  it('DELETE removes the file and the record (204), then everything is 404', async () => {
    const rec = aliceRecs[4]!;
    const abs = recordingAbsolutePath(dir, rec.filePath);
    assert.ok(existsSync(abs));
    const res = await app.inject({ method: 'DELETE', url: `/v1/recordings/${rec.sid}`, headers: asAlice() });
    assert.equal(res.statusCode, 204);
    assert.equal(res.body, '');
    assert.ok(!existsSync(abs), 'the audio is gone from disk');
    assert.equal(await store.getRecording(alice.sid, rec.sid), null);
    for (const url of [`/v1/recordings/${rec.sid}`, `/v1/recordings/${rec.sid}/media`, twilioPath(rec), twilioPath(rec, '.json')]) {
      assert.equal((await app.inject({ url, headers: asAlice() })).statusCode, 404, url);
    }
    assert.equal((await app.inject({ method: 'DELETE', url: `/v1/recordings/${rec.sid}`, headers: asAlice() })).statusCode, 404);
  });

  it('over real HTTP: mediaUrl follows the Host the client used; a seek fetches the right bytes', async () => {
    const plain = createHttpServer({ store, dataDir: dir, accountSid: alice.sid, isReady: () => true, metrics: () => '', registry: new MetricsRegistry() });
    try {
      await plain.listen({ host: '127.0.0.1', port: 0 });
      const { port } = plain.server.address() as { port: number };
      const rec = aliceRecs[0]!;
      const meta = await fetch(`http://127.0.0.1:${port}/v1/recordings/${rec.sid}`, { headers: asAlice() });
      assert.equal(meta.status, 200);
      const { mediaUrl } = (await meta.json()) as { mediaUrl: string };
      assert.equal(mediaUrl, `http://127.0.0.1:${port}/v1/recordings/${rec.sid}/media`);
      const media = await fetch(mediaUrl, { headers: { ...asAlice(), range: 'bytes=8044-' } });
      assert.equal(media.status, 206);
      assert.deepEqual(Buffer.from(await media.arrayBuffer()), fileOf(rec).subarray(8044));
      const noAuth = await fetch(mediaUrl);
      assert.equal(noAuth.status, 401);
    } finally {
      await plain.close();
    }
  });

  it('without a data directory the recording routes are not served', async () => {
    const bare = createHttpServer({ store, accountSid: alice.sid, isReady: () => true, metrics: () => '', registry: new MetricsRegistry() });
    try {
      assert.equal((await bare.inject({ url: '/v1/recordings', headers: asAlice() })).statusCode, 404);
    } finally {
      await bare.close();
    }
  });
});

describe('parseByteRange', () => {
  it('follows RFC 9110 §14 for one range and ignores what it does not serve', () => {
    const size = 1000;
    assert.equal(parseByteRange(undefined, size), null);
    assert.deepEqual(parseByteRange('bytes=0-0', size), { start: 0, end: 0 });
    assert.deepEqual(parseByteRange('bytes=10-', size), { start: 10, end: 999 });
    assert.deepEqual(parseByteRange('bytes=990-5000', size), { start: 990, end: 999 });
    assert.deepEqual(parseByteRange('bytes=-10', size), { start: 990, end: 999 });
    assert.deepEqual(parseByteRange('bytes=-5000', size), { start: 0, end: 999 });
    assert.deepEqual(parseByteRange('BYTES = 1 - 2', size), { start: 1, end: 2 });
    assert.equal(parseByteRange('bytes=1000-', size), 'unsatisfiable');
    assert.equal(parseByteRange('bytes=-0', size), 'unsatisfiable');
    for (const ignored of ['bytes=5-1', 'bytes=-', 'items=0-1', 'bytes=0-1,3-4', 'bytes=a-b', '']) {
      assert.equal(parseByteRange(ignored, size), null, ignored);
    }
  });
});
