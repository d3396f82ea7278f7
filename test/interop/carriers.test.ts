/**
 * Carriers end to end against SIPp carriers on loopback: calls to phone numbers from the REST API
 * and from `<Dial><Number>` go out through the account's carriers (/v1/carriers). A carrier whose
 * proxy challenges with 407 gets the carrier's credentials (the digest response is recomputed
 * here from SIPp's trace); one that challenges with 401 has SIPp verify them itself (<verifyauth>),
 * and a wrong password fails the call. Failover follows RFC 3261's split: a 503 moves on to the
 * next carrier, a 486 is the callee's answer and ends the call busy with no other carrier tried.
 * Prefixes pick the carrier (longest match before priority). A carrier with register: true is
 * registered with a SIPp registrar at start (SIPp verifies the digest) and unregistered at shutdown.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AppServer, twiml, waitFor } from './harness/app-server.js';
import { apiGet, startPatchbay, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, type TestPatchbay } from './harness/patchbay.js';
import { runSipp, type SippResult } from './harness/sipp.js';
import { freePort } from './harness/child-patchbay.js';
import { PgliteStore } from '../../src/store/pglite-store.js';
import { CARRIER_DEFAULTS } from '../../src/api/carriers.js';
import { newSid } from '../../src/ids.js';

const AUTH = 'Basic ' + Buffer.from(`${TEST_ACCOUNT_SID}:${TEST_AUTH_TOKEN}`).toString('base64');
const FINAL = new Set(['completed', 'busy', 'failed', 'no-answer', 'canceled']);

interface CallEvent {
  type: string;
  detail: Record<string, unknown>;
}
interface CallRecord {
  sid: string;
  status: string;
  sipResponseCode: number | null;
  answerTime: string | null;
  events: CallEvent[];
}

/** A SIPp carrier on its own port (UAS), with its message trace. */
interface SippCarrier {
  port: number;
  done: Promise<SippResult>;
}

async function startCarrier(scenario: string, o: { keys?: Record<string, string>; timeoutSeconds?: number } = {}): Promise<SippCarrier> {
  const port = await freePort();
  const done = runSipp({
    scenario,
    target: '127.0.0.1:9',
    calls: 1,
    localPort: port,
    keys: { sink_port: '9', ...o.keys },
    timeoutSeconds: o.timeoutSeconds ?? 60,
    traceMessages: true,
  });
  await new Promise((r) => setTimeout(r, 300)); // let SIPp bind before our INVITE
  return { port, done };
}

/** The INVITEs a SIPp UAS received (its trace holds only requests it received and responses it sent). */
const invitesIn = (r: SippResult): string[] => r.messages.filter((m) => m.startsWith('INVITE '));
/** Distinct Call-IDs of those INVITEs: retransmissions and challenged retries share one. */
const callIdsOf = (invites: string[]): Set<string> => new Set(invites.map((m) => /^Call-ID:\s*(.+)$/im.exec(m)?.[1]?.trim() ?? ''));

async function api(pb: TestPatchbay, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${pb.httpPort}${path}`, {
    method,
    headers: { authorization: AUTH, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

async function addCarrier(pb: TestPatchbay, fields: Record<string, unknown>): Promise<string> {
  const res = await api(pb, 'POST', '/v1/carriers', { host: '127.0.0.1', ...fields });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.sid as string;
}

async function removeCarriers(pb: TestPatchbay, sids: string[]): Promise<void> {
  for (const sid of sids) assert.equal((await api(pb, 'DELETE', `/v1/carriers/${sid}`)).status, 204);
}

/** POST …/Calls.json (the Twilio API) to a phone number; the call's SID. */
async function restCall(pb: TestPatchbay, to: string, url: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${pb.httpPort}/2010-04-01/Accounts/${TEST_ACCOUNT_SID}/Calls.json`, {
    method: 'POST',
    headers: { authorization: AUTH, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ To: to, From: '+15005550006', Url: url }).toString(),
  });
  const body = (await res.json()) as Record<string, unknown>;
  assert.equal(res.status, 201, JSON.stringify(body));
  return body.sid as string;
}

/** The call's record once it has ended and its events are written (`until` says which event must be there). */
async function endedCall(pb: TestPatchbay, sid: string, until: (r: CallRecord) => boolean = () => true): Promise<CallRecord> {
  return waitFor(async () => {
    const r = await apiGet(pb, `/v1/calls/${sid}`);
    const rec = r.body as CallRecord;
    return r.status === 200 && FINAL.has(rec.status) && until(rec) ? rec : null;
  }, 20000, `the record of ${sid}`);
}

const md5 = (s: string): string => createHash('md5').update(s).digest('hex');

/** Digest parameters of a Proxy-Authorization / Authorization value. */
function digestParams(value: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of value.replace(/^\s*Digest\s+/i, '').matchAll(/([a-z-]+)=("([^"]*)"|[^,\s]+)/gi)) out.set(m[1]!.toLowerCase(), m[3] ?? m[2]!);
  return out;
}

/** RFC 2617 §3.2.2 response for qop=auth and MD5, computed independently of src/sip/digest.ts. */
function expectedResponse(p: Map<string, string>, method: string, username: string, password: string): string {
  const ha1 = md5(`${username}:${p.get('realm')}:${password}`);
  const ha2 = md5(`${method}:${p.get('uri')}`);
  return md5(`${ha1}:${p.get('nonce')}:${p.get('nc')}:${p.get('cnonce')}:${p.get('qop')}:${ha2}`);
}

describe('carriers: digest, failover and prefixes with SIPp carriers', () => {
  let pb: TestPatchbay;
  const app = new AppServer();

  before(async () => {
    await app.start();
    // The called party hears a second of silence, then the application hangs up.
    app.route('/answer', twiml('<Response><Pause length="1"/></Response>'));
    app.route('/dial', twiml('<Response><Dial action="/after" timeout="15"><Number>+1 (415) 555-0100</Number></Dial></Response>'));
    app.route('/after', twiml('<Response><Hangup/></Response>'));
    pb = await startPatchbay({ PATCHBAY_VOICE_URL: app.url('/dial') });
  });

  after(async () => {
    await pb?.dispose();
    await app.stop();
  });

  it('answers a carrier\'s 407 with its username and password: the REST call to +14155550100 is connected and completes', async () => {
    const carrier = await startCarrier('uas-carrier-407.xml');
    const sid = await addCarrier(pb, { port: carrier.port, username: 'trunk-user', password: 's3cret-Trunk', prefixes: ['+1'], fromDomain: 'pbx.example' });
    try {
      const callSid = await restCall(pb, '+14155550100', app.url('/answer'));
      const sipp = await carrier.done;
      assert.equal(sipp.successful, 1, `the carrier saw the whole call: ${sipp.errors}`);
      const rec = await endedCall(pb, callSid);
      assert.equal(rec.status, 'completed');
      assert.notEqual(rec.answerTime, null);

      const [first, second, ...more] = invitesIn(sipp);
      assert.ok(first && second, 'the INVITE and its authenticated retry');
      assert.equal(more.length, 0);
      assert.match(first, /^INVITE sip:\+14155550100@127\.0\.0\.1:\d+ SIP\/2\.0/);
      assert.doesNotMatch(first, /^Proxy-Authorization:/im, 'no credentials before the challenge');
      assert.match(first, /^From:.*<sip:\+15005550006@pbx\.example>/im, 'From uses the carrier\'s fromDomain');
      const header = /^Proxy-Authorization:\s*(.+)$/im.exec(second)?.[1];
      assert.ok(header, 'the retried INVITE answers the 407 with Proxy-Authorization');
      const p = digestParams(header);
      assert.equal(p.get('username'), 'trunk-user');
      assert.equal(p.get('realm'), 'carrier.example');
      assert.equal(p.get('nonce'), '5f1b3c0a9e8d7c6b5a4f3e2d1c0b9a88');
      assert.equal(p.get('qop'), 'auth');
      assert.equal(p.get('response'), expectedResponse(p, 'INVITE', 'trunk-user', 's3cret-Trunk'), 'the digest is made with the carrier\'s password');
      assert.notEqual(p.get('response'), expectedResponse(p, 'INVITE', 'trunk-user', 'another-password'));
    } finally {
      await removeCarriers(pb, [sid]);
    }
  });

  it('answers a carrier\'s 401: SIPp verifies the credentials itself, and a wrong password fails the call with 403', async () => {
    const good = await startCarrier('uas-carrier-401.xml', { keys: { carrier_password: 'right-pass' } });
    let sid = await addCarrier(pb, { port: good.port, username: 'trunk-user', password: 'right-pass' });
    try {
      const callSid = await restCall(pb, '+14155550100', app.url('/answer'));
      const sipp = await good.done;
      assert.equal(sipp.successful, 1, `SIPp accepted the Authorization: ${sipp.errors}`);
      assert.equal((await endedCall(pb, callSid)).status, 'completed');
    } finally {
      await removeCarriers(pb, [sid]);
    }

    const bad = await startCarrier('uas-carrier-401.xml', { keys: { carrier_password: 'right-pass' } });
    sid = await addCarrier(pb, { port: bad.port, username: 'trunk-user', password: 'wrong-pass' });
    try {
      const callSid = await restCall(pb, '+14155550100', app.url('/answer'));
      const sipp = await bad.done;
      assert.equal(sipp.successful, 0);
      assert.equal(sipp.failed, 1, 'SIPp refused the credentials (its bad-auth branch)');
      assert.ok(invitesIn(sipp)[1]?.match(/^Authorization:\s*Digest /im), 'credentials were sent, just wrong ones');
      const rec = await endedCall(pb, callSid);
      assert.equal(rec.status, 'failed');
      assert.equal(rec.sipResponseCode, 403);
    } finally {
      await removeCarriers(pb, [sid]);
    }
  });

  it('fails over on 503: carrier 1 (priority 1) sees one INVITE, carrier 2 (priority 2) connects the call, the events show the failover', async () => {
    const down = await startCarrier('uas-unavailable.xml');
    const up = await startCarrier('uas-answer.xml');
    const first = await addCarrier(pb, { port: down.port, priority: 1, friendlyName: 'primary' });
    const second = await addCarrier(pb, { port: up.port, priority: 2, friendlyName: 'backup' });
    try {
      const callSid = await restCall(pb, '+14155550100', app.url('/answer'));
      const [downResult, upResult] = await Promise.all([down.done, up.done]);
      assert.equal(downResult.successful, 1, downResult.errors);
      assert.equal(callIdsOf(invitesIn(downResult)).size, 1, 'carrier 1 saw exactly one INVITE');
      assert.equal(upResult.successful, 1, `carrier 2 answered and got our BYE: ${upResult.errors}`);
      assert.equal(callIdsOf(invitesIn(upResult)).size, 1);

      const rec = await endedCall(pb, callSid, (r) => r.events.some((e) => e.type === 'sip.failover'));
      assert.equal(rec.status, 'completed');
      assert.equal(rec.sipResponseCode, 200);
      const failover = rec.events.find((e) => e.type === 'sip.failover')!;
      assert.deepEqual(failover.detail, { via: `carrier ${first}`, status: 503 });
      const routes = rec.events.filter((e) => e.type === 'sip.route').map((e) => e.detail.via);
      assert.deepEqual(routes, [`carrier ${first}`, `carrier ${second}`]);
      assert.ok(rec.events.some((e) => e.type === 'sip.out' && e.detail.failover === true && e.detail.via === `carrier ${second}`), 'the retried INVITE is on the timeline');
    } finally {
      await removeCarriers(pb, [first, second]);
    }
  });

  it('does not fail over on 486: the call ends busy and carrier 2 never sees an INVITE', async () => {
    const busy = await startCarrier('uas-busy.xml');
    const other = await startCarrier('uas-answer.xml', { timeoutSeconds: 6 });
    const first = await addCarrier(pb, { port: busy.port, priority: 1 });
    const second = await addCarrier(pb, { port: other.port, priority: 2 });
    try {
      const callSid = await restCall(pb, '+14155550100', app.url('/answer'));
      const rec = await endedCall(pb, callSid);
      assert.equal(rec.status, 'busy');
      assert.equal(rec.sipResponseCode, 486);
      assert.equal(rec.events.some((e) => e.type === 'sip.failover'), false);
      assert.equal((await busy.done).successful, 1);
      const otherResult = await other.done; // ends on its own timeout
      assert.equal(otherResult.successful + otherResult.failed, 0, 'carrier 2 had no call');
      assert.deepEqual(invitesIn(otherResult), [], 'carrier 2 received no INVITE');
    } finally {
      await removeCarriers(pb, [first, second]);
    }
  });

  it('routes by prefix: +1415… goes to the +1 carrier and +44… to the +44 carrier, whatever their priorities', async () => {
    const us = await startCarrier('uas-answer.xml');
    const uk = await startCarrier('uas-answer.xml');
    // The UK carrier is preferred by priority; only its prefix keeps US numbers away from it.
    const usSid = await addCarrier(pb, { port: us.port, priority: 50, prefixes: ['+1'], techPrefix: '9#' });
    const ukSid = await addCarrier(pb, { port: uk.port, priority: 1, prefixes: ['+44', '+4420'] });
    try {
      const toUs = await restCall(pb, '+14155550100', app.url('/answer'));
      const toUk = await restCall(pb, '+442071234567', app.url('/answer'));
      const [usResult, ukResult] = await Promise.all([us.done, uk.done]);
      assert.equal(usResult.successful, 1, usResult.errors);
      assert.equal(ukResult.successful, 1, ukResult.errors);
      const [usInvite] = invitesIn(usResult);
      const [ukInvite] = invitesIn(ukResult);
      assert.match(usInvite ?? '', /^INVITE sip:9%23\+14155550100@127\.0\.0\.1:\d+ SIP\/2\.0/, 'the tech prefix leads the number, its # escaped (RFC 3261 §25.1)');
      assert.match(ukInvite ?? '', /^INVITE sip:\+442071234567@127\.0\.0\.1:\d+ SIP\/2\.0/);
      assert.equal((await endedCall(pb, toUs)).status, 'completed');
      assert.equal((await endedCall(pb, toUk)).status, 'completed');
    } finally {
      await removeCarriers(pb, [usSid, ukSid]);
    }
  });

  it('a SIPp caller\'s <Dial><Number> goes out through the carrier, digest and all: DialCallStatus completed', async () => {
    app.requests.length = 0;
    const carrier = await startCarrier('uas-carrier-407.xml');
    const sid = await addCarrier(pb, { port: carrier.port, username: 'trunk-user', password: 's3cret-Trunk', prefixes: ['+1415'] });
    try {
      const caller = await runSipp({ scenario: 'uac-media-hold.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 1, keys: { rtp_sink_port: '9' }, extra: ['-d', '1500'] });
      assert.equal(caller.successful, 1, caller.errors);
      const sipp = await carrier.done;
      assert.equal(sipp.successful, 1, `the carrier answered and got our BYE: ${sipp.errors}`);
      const p = digestParams(/^Proxy-Authorization:\s*(.+)$/im.exec(invitesIn(sipp)[1] ?? '')?.[1] ?? '');
      assert.equal(p.get('response'), expectedResponse(p, 'INVITE', 'trunk-user', 's3cret-Trunk'));
      assert.match(invitesIn(sipp)[0] ?? '', /^INVITE sip:\+14155550100@/, 'the number is normalised');

      const action = await waitFor(() => app.requestsTo('/after')[0], 10000, 'the Dial action');
      assert.equal(action.params.DialCallStatus, 'completed');
      assert.equal(action.params.DialSipResponseCode, '200');
      const child = await endedCall(pb, action.params.DialCallSid ?? '');
      assert.equal(child.status, 'completed');
      assert.ok(child.events.some((e) => e.type === 'sip.route' && e.detail.via === `carrier ${sid}`), 'the child leg went through the carrier');
    } finally {
      await removeCarriers(pb, [sid]);
    }
  });
});

describe('carriers: outbound registration with a SIPp registrar', () => {
  it('registers a carrier with register: true at start (401 answered, SIPp verifies the credentials) and removes the binding at shutdown', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'patchbay-carrier-reg-'));
    const trace = join(dataDir, 'registrar-messages.log');
    const port = await freePort();
    // The trace goes to a file of ours so it can be read while SIPp still runs.
    const registrar = runSipp({
      scenario: 'uas-registrar-401.xml',
      target: '127.0.0.1:9',
      calls: 1,
      localPort: port,
      keys: { carrier_password: 'reg-pass-1' },
      timeoutSeconds: 60,
      extra: ['-trace_msg', '-message_file', trace],
    });
    await new Promise((r) => setTimeout(r, 300));
    const store = await PgliteStore.open(join(dataDir, 'db'));
    await store.ensureAccount({ sid: TEST_ACCOUNT_SID, authToken: TEST_AUTH_TOKEN });
    await store.createCarrier({
      ...CARRIER_DEFAULTS,
      sid: newSid('TK'),
      accountSid: TEST_ACCOUNT_SID,
      friendlyName: 'registering carrier',
      host: '127.0.0.1',
      port,
      username: 'trunk-user',
      password: 'reg-pass-1',
      register: true,
      fromDomain: 'carrier.example',
    });
    await store.close();
    const pb = await startPatchbay({}, dataDir);
    try {
      // Registered: SIPp has sent its 200 to the REGISTER that carried credentials.
      await waitFor(() => existsSync(trace) && /SIP\/2\.0 200 OK/.test(readFileSync(trace, 'utf8')), 10000, 'the registrar\'s 200');
    } finally {
      await pb.dispose();
    }
    const result = await registrar;
    assert.equal(result.successful, 1, `SIPp verified both REGISTERs and saw the removal: ${result.errors}`);
    const registers = readFileSync(trace, 'utf8')
      .split(/^-{20,}.*$/m)
      .map((m) => m.trim().replace(/^\w+ message (sent|received)[^\n]*\n/, '').trim())
      .filter((m) => m.startsWith('REGISTER '));
    assert.equal(registers.length, 3);
    assert.deepEqual(registers.map((r) => /^Expires:\s*(\d+)/im.exec(r)?.[1]), ['3600', '3600', '0']);
    for (const r of registers) {
      assert.match(r, /^REGISTER sip:carrier\.example SIP\/2\.0/);
      assert.match(r, /^To:\s*<?sip:trunk-user@carrier\.example>?/im, 'the AOR is username@fromDomain');
    }
    rmSync(dataDir, { recursive: true, force: true });
  });
});
