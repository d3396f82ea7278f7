import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newSid } from '../../src/ids.js';
import type { CallRecord } from '../../src/store/store-types.js';
import { startApiTestServer, type ApiTestServer } from './api-test-server.js';

function call(accountSid: string, fields: Partial<CallRecord>): CallRecord {
  return {
    sid: newSid('CA'), accountSid, from: '+15551110000', to: 'sip:bob@127.0.0.1:5070', direction: 'inbound', status: 'completed',
    startTime: '2024-01-01T10:00:00.000Z', answerTime: null, endTime: null, durationSeconds: null, sipCallId: null,
    sipResponseCode: null, errorCode: null, errorMessage: null, endReason: null, parentCallSid: null, ...fields,
  };
}

/** The column each header starts at, so rows can be checked against it. */
function columnStarts(header: string): number[] {
  return [...header.matchAll(/\S+(?: \S+)*/g)].map((m) => m.index!);
}

describe('patchbay calls', () => {
  let s: ApiTestServer;
  let done: CallRecord;
  let busy: CallRecord;
  let foreign: CallRecord;

  before(async () => {
    s = await startApiTestServer();
    done = call(s.account.sid, { startTime: '2024-01-01T10:00:00.000Z', answerTime: '2024-01-01T10:00:02.000Z', endTime: '2024-01-01T10:01:02.000Z', durationSeconds: 60, sipCallId: 'abc@host' });
    busy = call(s.account.sid, { status: 'busy', direction: 'outbound-api', to: '+15550000002', startTime: '2024-01-02T10:00:00.000Z', endTime: '2024-01-02T10:00:01.000Z', sipResponseCode: 486 });
    foreign = call(s.other.sid, {});
    for (const c of [done, busy, foreign]) await s.store.createCall(c);
    await s.store.appendEvents(done.sid, [
      { at: '2024-01-01T10:00:00.000Z', type: 'sip.in', detail: { method: 'INVITE' } },
      { at: '2024-01-01T10:01:02.000Z', type: 'status', detail: { status: 'completed' } },
    ]);
  });
  after(async () => s?.close());

  it('lists calls as an aligned table, newest first, only the account’s', async () => {
    const r = await s.cli(['calls', 'list']);
    assert.equal(r.code, 0, r.err);
    const [header, ...rows] = r.out.trimEnd().split('\n');
    assert.match(header!, /^SID +STATUS +DIRECTION +FROM +TO +STARTED +DURATION$/);
    assert.equal(rows.length, 2);
    const starts = columnStarts(header!);
    for (const row of rows) assert.deepEqual(columnStarts(row), starts, row);
    assert.match(rows[0]!, new RegExp(`^${busy.sid} +busy +outbound-api +\\+15551110000 +\\+15550000002 +2024-01-02T10:00:00Z +-$`));
    assert.match(rows[1]!, new RegExp(`^${done.sid} +completed +inbound .* 60s$`));
    assert.ok(!r.out.includes(foreign.sid));
  });

  it('prints the API JSON with --json, and filters', async () => {
    const r = await s.cli(['calls', 'list', '--json', '--status', 'busy']);
    assert.equal(r.code, 0, r.err);
    const page = JSON.parse(r.out) as { calls: { sid: string; sipResponseCode: number }[]; nextPageToken: string | null };
    assert.deepEqual(page.calls.map((c) => [c.sid, c.sipResponseCode]), [[busy.sid, 486]]);
    assert.equal(page.nextPageToken, null);
  });

  it('pages with --limit and --page-token (the token printed on stderr)', async () => {
    const first = await s.cli(['calls', 'list', '--limit', '1']);
    assert.equal(first.code, 0);
    assert.equal(first.out.trimEnd().split('\n').length, 2);
    const token = /--page-token (\S+)/.exec(first.err)?.[1];
    assert.ok(token, first.err);
    const second = await s.cli(['calls', 'list', '--limit', '1', '--page-token', token]);
    assert.match(second.out, new RegExp(done.sid));
    assert.equal(second.err, '');
  });

  it('shows one call with its events; --json gives the record', async () => {
    const r = await s.cli(['calls', 'get', done.sid]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`^sid: +${done.sid}$`, 'm'));
    assert.match(r.out, /^status: +completed$/m);
    assert.match(r.out, /^duration: +60s$/m);
    assert.match(r.out, /^sip call-id: +abc@host$/m);
    assert.match(r.out, /^AT +EVENT +DETAIL$/m);
    assert.match(r.out, /^2024-01-01T10:00:00Z +sip\.in +\{"method":"INVITE"\}$/m);
    const json = JSON.parse((await s.cli(['calls', 'get', done.sid, '--json'])).out) as { sid: string; events: unknown[] };
    assert.equal(json.sid, done.sid);
    assert.equal(json.events.length, 2);
  });

  it("reports the API's error code and message and exits 1 for an unknown or foreign call", async () => {
    for (const sid of [newSid('CA'), foreign.sid]) {
      const r = await s.cli(['calls', 'get', sid]);
      assert.equal(r.code, 1);
      assert.equal(r.out, '');
      assert.equal(r.err, `patchbay: error 20404: The requested resource /v1/calls/${sid} was not found (HTTP 404)\n`);
    }
  });

  it('creates a call: the engine gets exactly the options given', async () => {
    const r = await s.cli([
      'calls', 'create', '--to', 'sip:alice@127.0.0.1:5090', '--from', '+15551234567', '--url', 'https://app.example/voice', '--method', 'get',
      '--status-callback', 'https://app.example/status', '--status-callback-event', 'initiated ringing', '--status-callback-event', 'completed', '--timeout', '20',
    ]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^status: +queued$/m);
    assert.match(r.out, /^to: +sip:alice@127\.0\.0\.1:5090$/m);
    assert.deepEqual(s.calls.creates.at(-1), {
      accountSid: s.account.sid,
      request: {
        to: 'sip:alice@127.0.0.1:5090', from: '+15551234567', url: 'https://app.example/voice', method: 'GET', statusCallback: 'https://app.example/status',
        statusCallbackEvent: ['initiated', 'ringing', 'completed'], timeout: 20,
      },
    });
  });

  it('hangs up a live call (PATCH status=completed), and reports 21220 for an ended one', async () => {
    const created = JSON.parse((await s.cli(['calls', 'create', '--to', 'sip:x@127.0.0.1', '--from', 'cli', '--twiml', '<Response><Pause/></Response>', '--json'])).out) as { sid: string };
    const r = await s.cli(['calls', 'hangup', created.sid]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^status: +completed$/m);
    assert.deepEqual(s.calls.updates.at(-1), { accountSid: s.account.sid, sid: created.sid, request: { status: 'completed' } });
    const again = await s.cli(['calls', 'hangup', created.sid]);
    assert.equal(again.code, 1);
    assert.equal(again.err, 'patchbay: error 21220: Call is not in-progress. Cannot redirect. (HTTP 400)\n');
  });

  it("reports the server's refusal of a create with its code (exit 1)", async () => {
    const r = await s.cli(['calls', 'create', '--to', 'x', '--from', 'y', '--url', '/relative']);
    assert.equal(r.code, 1);
    assert.match(r.err, /^patchbay: error 21205: Invalid url: "\/relative"/);
  });

  it('exits 2 with the usage on bad command lines', async () => {
    for (const args of [
      ['calls'], ['calls', 'dial'], ['calls', 'list', '--colour', 'red'], ['calls', 'get'], ['calls', 'get', 'CA1', 'CA2'],
      ['calls', 'create', '--to', 'x', '--from', 'y'], ['calls', 'create', '--from', 'y', '--twiml', 'x'], ['calls', 'list', '--limit', '0'],
    ]) {
      const r = await s.cli(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.err, /^patchbay: .+\n\nUsage:\n/, args.join(' '));
      assert.equal(r.out, '');
    }
  });

  it('takes the connection from flags over the environment; missing credentials exit 2, wrong ones 1', async () => {
    const viaFlags = await s.cli(['calls', 'list', '--api-url', s.url, '--account-sid', s.account.sid, '--auth-token', 'cli-secret'], {});
    assert.equal(viaFlags.code, 0, viaFlags.err);
    const missing = await s.cli(['calls', 'list'], { PATCHBAY_API_URL: s.url });
    assert.equal(missing.code, 2);
    assert.match(missing.err, /PATCHBAY_ACCOUNT_SID and PATCHBAY_AUTH_TOKEN/);
    const wrong = await s.cli(['calls', 'list', '--auth-token', 'nope']);
    assert.equal(wrong.code, 1);
    assert.equal(wrong.err, 'patchbay: error 20003: Authenticate (HTTP 401)\n');
  });

  it('says so when the server cannot be reached (exit 1)', async () => {
    // A port that was just free: nothing listens there.
    const { createServer } = await import('node:net');
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    const r = await s.cli(['calls', 'list'], { ...s.env, PATCHBAY_API_URL: `http://127.0.0.1:${port}` });
    assert.equal(r.code, 1);
    assert.match(r.err, new RegExp(`^patchbay: cannot reach http://127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)\\n$`));
  });
});
