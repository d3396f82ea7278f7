/**
 * `kill -9` at random moments. Patchbay runs as a real process on one data directory; each round
 * SIPp drives a steady mix of calls (short ones the app ends, callers talking into a <Record> who
 * hang up themselves, calls whose webhook is slow to answer; status callbacks on every change) and
 * Patchbay is killed with SIGKILL after a random delay. The next start (which recovers) is then
 * checked against what the SIPp callers saw:
 * - the store opens; no record is left open or half-written (terminal status, end time, duration
 *   agreeing with answer and end, a timeline), whatever the call;
 * - every call whose end SIPp saw at least GRACE_MS before the kill has its complete record
 *   (completed, not closed by recovery); every answered call of every round has a record;
 * - calls live at the kill are closed with endReason process-restart and an end time;
 * - every recording is completed/absent/failed, each completed one a WAV whose header agrees with
 *   its length and with the row, and no `.part` file is left.
 * The kill schedule comes from a seeded PRNG: the seed is printed; PATCHBAY_CRASH_SEED=<seed>
 * replays the same delays (what the calls were doing at that instant still depends on timing).
 * PATCHBAY_CRASH_ROUNDS sets the number of rounds (default 4).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppServer, twiml, type RecordedRequest } from './harness/app-server.js';
import { apiGet, TEST_ACCOUNT_SID } from './harness/patchbay.js';
import { freePort, spawnPatchbay, type ChildPatchbay } from './harness/child-patchbay.js';
import { LoggedSipp, type CallIdLog } from './harness/logged-sipp.js';
import { writeAudioPcap } from './harness/rtp-pcap.js';
import { decodeWav } from '../../src/media/wav.js';
import { recordingAbsolutePath, recordingRelativePath, RECORDINGS_DIR } from '../../src/store/recording-paths.js';
import { Prng } from '../fuzz/mutator.js';

const SEED = Number(process.env.PATCHBAY_CRASH_SEED ?? Date.now() % 2 ** 31);
const ROUNDS = Number(process.env.PATCHBAY_CRASH_ROUNDS ?? 4);
/** A call SIPp saw end this long before the kill must have its final record committed. */
const GRACE_MS = 1000;
const KILL_AFTER_MS: [number, number] = [2500, 8000];
const TERMINAL = new Set(['completed', 'failed', 'busy', 'no-answer', 'canceled']);

/** mulberry32: small, seedable, good enough to spread kill instants. */
function prng(seed: number): () => number {
  const p = new Prng(seed);
  return () => p.float();
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface StoredCall {
  sid: string;
  status: string;
  sipCallId: string | null;
  startTime: string;
  answerTime: string | null;
  endTime: string | null;
  durationSeconds: number | null;
  endReason: string | null;
  events: { type: string; detail: Record<string, unknown> }[];
}

interface StoredRecording {
  sid: string;
  callSid: string;
  status: string;
  durationSeconds: number | null;
  bytes: number | null;
}

interface Round {
  killAfterMs: number;
  /** What SIPp had logged GRACE_MS before the kill, and everything it logged. */
  early: CallIdLog;
  all: CallIdLog;
}

async function allPages<T>(httpPort: number, path: string, key: string): Promise<T[]> {
  const out: T[] = [];
  let token: string | null = null;
  do {
    const res: { status: number; body: Record<string, unknown> } = await apiGet({ httpPort }, `${path}?pageSize=1000${token ? `&pageToken=${encodeURIComponent(token)}` : ''}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    out.push(...(res.body[key] as T[]));
    token = res.body.nextPageToken as string | null;
  } while (token);
  return out;
}

function merge(logs: CallIdLog[]): CallIdLog {
  const m: CallIdLog = { answered: new Set(), ended: new Set() };
  for (const l of logs) {
    for (const id of l.answered) m.answered.add(id);
    for (const id of l.ended) m.ended.add(id);
  }
  return m;
}

/** Every file under `dir`, relative paths. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' });
}

/** A completed recording's file: a WAV whose RIFF and data sizes agree with its length and its row. */
function checkWav(dataDir: string, rec: StoredRecording): void {
  const path = recordingAbsolutePath(dataDir, recordingRelativePath(TEST_ACCOUNT_SID, rec.sid));
  assert.ok(existsSync(path), `completed recording ${rec.sid} has no file`);
  const bytes = readFileSync(path);
  assert.equal(bytes.readUInt32LE(4), bytes.length - 8, `${rec.sid}: RIFF size disagrees with the file length`);
  assert.equal(bytes.toString('latin1', 36, 40), 'data');
  assert.equal(bytes.readUInt32LE(40), bytes.length - 44, `${rec.sid}: data size disagrees with the file length`);
  const wav = decodeWav(bytes);
  assert.equal(wav.sampleRate, 8000);
  assert.equal(wav.samples[0]!.length, (bytes.length - 44) / 2);
  assert.equal(rec.bytes, bytes.length, `${rec.sid}: row says ${rec.bytes} bytes, file has ${bytes.length}`);
  assert.equal(rec.durationSeconds, Math.round(wav.samples[0]!.length / 8000), `${rec.sid}: duration disagrees with the audio`);
}

/** A record that is not open and not half-written, whichever way the call ended. */
function checkConsistent(c: StoredCall): void {
  const what = `${c.sid} (${c.sipCallId}): ${JSON.stringify({ ...c, events: c.events.map((e) => e.type) })}`;
  assert.ok(TERMINAL.has(c.status), `open record after restart: ${what}`);
  assert.ok(c.endTime, `no end time: ${what}`);
  assert.ok(Date.parse(c.endTime) >= Date.parse(c.startTime), `ends before it starts: ${what}`);
  if (c.answerTime) {
    assert.ok(c.durationSeconds !== null, `answered without a duration: ${what}`);
    const seconds = (Date.parse(c.endTime) - Date.parse(c.answerTime)) / 1000;
    assert.ok(Math.abs(c.durationSeconds - seconds) <= 1, `duration ${c.durationSeconds} s for ${seconds} s answered: ${what}`);
  }
  assert.ok(c.events.length > 0, `no timeline: ${what}`);
  if (c.endReason === 'process-restart') {
    assert.equal(c.status, 'failed', what);
    const last = c.events[c.events.length - 1]!;
    assert.equal(last.type, 'status', `recovery's closing event missing: ${what}`);
    assert.equal(last.detail.reason, 'process-restart', what);
  } else {
    // Ended by the engine: the final write (record and timeline in one transaction) is all there.
    assert.equal(c.status, 'completed', what);
    assert.ok(c.events.some((e) => e.type === 'webhook'), `finished without its timeline: ${what}`);
    assert.ok(c.events.some((e) => e.type === 'status' && e.detail.to === 'completed'), `finished without its final status event: ${what}`);
  }
}

describe(`kill -9 at random moments (seed ${SEED}; PATCHBAY_CRASH_SEED=${SEED} replays it)`, () => {
  let app: AppServer;
  let dir: string;
  let pcap: string;
  const random = prng(SEED);

  before(async () => {
    app = await new AppServer().start();
    const kindOf = (req: RecordedRequest): string => /^(?:sip:)?(\w+)/.exec(req.params.To ?? '')?.[1] ?? '';
    // Webhook delays come from their own stream so they do not shift the kill schedule.
    const delays = prng(SEED ^ 0x5bd1e995);
    app.route('/voice', async (req, res) => {
      const kind = kindOf(req);
      if (kind === 'slow') await sleep(200 + delays() * 2300); // the kill may land while this is pending
      const doc = kind === 'record'
        ? '<Response><Record maxLength="30" timeout="0" playBeep="false" trim="do-not-trim" action="/recorded" recordingStatusCallback="/recording-status"/></Response>'
        : `<Response><Say>${kind === 'slow' ? 'Slow answer.' : 'Short call.'}</Say><Hangup/></Response>`;
      await twiml(doc)(req, res);
    });
    app.route('/recorded', twiml('<Response><Hangup/></Response>'));
    const slowOk = async (_req: RecordedRequest, res: import('node:http').ServerResponse): Promise<void> => {
      await sleep(delays() * 300);
      res.writeHead(204).end();
    };
    app.route('/status', slowOk);
    app.route('/recording-status', slowOk);
    dir = mkdtempSync(join(tmpdir(), 'patchbay-crash-random-'));
    // 2.5 s of a speech-band signal, so recordings hold audio (not silence) up to the crash.
    const pcm = new Int16Array(20000);
    for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(6000 * Math.sin((2 * Math.PI * 440 * i) / 8000) + 3000 * Math.sin((2 * Math.PI * 1270 * i) / 8000));
    pcap = writeAudioPcap(pcm).path;
  });

  after(async () => {
    await app?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function startPatchbay(): Promise<ChildPatchbay> {
    return spawnPatchbay(dir, {
      PATCHBAY_VOICE_URL: app.url('/voice'),
      PATCHBAY_STATUS_CALLBACK: app.url('/status'),
      PATCHBAY_STATUS_CALLBACK_EVENT: 'initiated ringing answered completed',
      PATCHBAY_LOG_LEVEL: 'warn',
    });
  }

  /** Runs the traffic and kills Patchbay at a random instant. */
  async function crashRound(pb: ChildPatchbay): Promise<Round> {
    const target = `127.0.0.1:${pb.sipPort}`;
    const sipps = [
      LoggedSipp.start({ scenario: 'uac-logged-app-hangs-up.xml', target, service: 'short', rate: 2, calls: 1000, mediaPort: await freePort() }),
      LoggedSipp.start({ scenario: 'uac-logged-app-hangs-up.xml', target, service: 'slow', rate: 1, calls: 1000, mediaPort: await freePort() }),
      LoggedSipp.start({
        scenario: 'uac-logged-caller-hangs-up.xml', vars: { PCAP: pcap, HOLD_MS: '3000' },
        target, service: 'record', rate: 1, calls: 1000, mediaPort: await freePort(),
      }),
    ];
    try {
      const killAfterMs = Math.round(KILL_AFTER_MS[0] + random() * (KILL_AFTER_MS[1] - KILL_AFTER_MS[0]));
      await sleep(killAfterMs - GRACE_MS);
      const early = merge(sipps.map((s) => s.calls()));
      await sleep(GRACE_MS);
      pb.proc.kill('SIGKILL');
      await pb.exited;
      // SIPp goes right after: whatever it logged, Patchbay had sent before dying.
      await Promise.all(sipps.map((s) => s.kill()));
      return { killAfterMs, early, all: merge(sipps.map((s) => s.calls())) };
    } finally {
      await Promise.all(sipps.map((s) => s.kill()));
      for (const s of sipps) s.dispose();
    }
  }

  /** After a restart: every check in the header, over every round so far. */
  async function verify(pb: ChildPatchbay, rounds: Round[]): Promise<{ restartClosed: number; lateLost: number[]; recordings: Record<string, number> }> {
    const listed = await allPages<StoredCall>(pb.httpPort, '/v1/calls', 'calls');
    const calls: StoredCall[] = [];
    for (const c of listed) {
      const full = await apiGet({ httpPort: pb.httpPort }, `/v1/calls/${c.sid}`);
      assert.equal(full.status, 200);
      calls.push(full.body as StoredCall);
    }
    for (const c of calls) checkConsistent(c);
    const byCallId = new Map(calls.map((c) => [c.sipCallId, c]));
    rounds.forEach((r, i) => {
      for (const id of r.all.answered) assert.ok(byCallId.has(id), `round ${i}: answered call ${id} has no record`);
      for (const id of r.early.ended) {
        const c = byCallId.get(id);
        assert.ok(c, `round ${i}: call ${id} ended ${GRACE_MS} ms before the kill has no record`);
        assert.notEqual(c.endReason, 'process-restart', `round ${i}: call ${id} ended ${GRACE_MS} ms before the kill but its final record was lost`);
      }
    });
    const restartClosed = calls.filter((c) => c.endReason === 'process-restart').length;
    // Calls SIPp saw end in the last GRACE_MS whose final write had not committed at the kill
    // (the BYE or its 200 goes out before the record is written): reported, not failed.
    const lateLost = rounds.map((r) => [...r.all.ended].filter((id) => !r.early.ended.has(id) && byCallId.get(id)?.endReason === 'process-restart').length);

    const recordings = await allPages<StoredRecording>(pb.httpPort, '/v1/recordings', 'recordings');
    const count: Record<string, number> = {};
    const callSids = new Set(calls.map((c) => c.sid));
    for (const rec of recordings) {
      count[rec.status] = (count[rec.status] ?? 0) + 1;
      assert.ok(['completed', 'absent', 'failed'].includes(rec.status), `recording ${rec.sid} left ${rec.status}`);
      assert.ok(callSids.has(rec.callSid), `recording ${rec.sid} of an unknown call`);
      if (rec.status === 'completed') checkWav(dir, rec);
      else if (rec.status === 'absent') assert.ok(!existsSync(recordingAbsolutePath(dir, recordingRelativePath(TEST_ACCOUNT_SID, rec.sid))));
    }
    const parts = filesUnder(join(dir, RECORDINGS_DIR)).filter((f) => f.endsWith('.part'));
    assert.deepEqual(parts, [], 'a .part file outlived its (closed) recording');
    return { restartClosed, lateLost, recordings: count };
  }

  it(`${ROUNDS} rounds of calls killed at random instants lose nothing`, { timeout: 60_000 * (1 + ROUNDS) }, async (t) => {
    t.diagnostic(`seed ${SEED}`);
    const rounds: Round[] = [];
    let pb = await startPatchbay();
    try {
      for (let i = 0; i < ROUNDS; i++) {
        const round = await crashRound(pb);
        rounds.push(round);
        pb = await startPatchbay();
        const v = await verify(pb, rounds);
        const live = [...round.all.answered].filter((id) => !round.all.ended.has(id)).length;
        t.diagnostic(
          `round ${i}: killed after ${round.killAfterMs} ms; SIPp saw ${round.all.answered.size} answered, ${round.all.ended.size} ended ` +
            `(${round.early.ended.size} at least ${GRACE_MS} ms before the kill; ${v.lateLost[i]} of the later ones closed by recovery), ${live} live at the kill; ` +
            `store: ${v.restartClosed} closed as process-restart so far, recordings ${JSON.stringify(v.recordings)}`,
        );
      }
      const answered = rounds.reduce((n, r) => n + r.all.answered.size, 0);
      const ended = rounds.reduce((n, r) => n + r.early.ended.size, 0);
      assert.ok(answered >= 10 * ROUNDS && ended >= 5 * ROUNDS, `too little traffic to mean anything (${answered} answered, ${ended} ended)`);
      const v = await verify(pb, rounds);
      assert.ok(v.restartClosed >= ROUNDS, `every round should have killed live calls (${v.restartClosed} closed as process-restart)`);
      assert.ok((v.recordings.completed ?? 0) > 0, 'some recordings completed');
    } finally {
      pb.proc.kill('SIGTERM');
      await pb.exited;
    }
  });
});
