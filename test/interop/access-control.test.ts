/**
 * Who may call in, against a real Patchbay in production mode (`PATCHBAY_MODE=production`) with
 * SIPp callers bound to different loopback addresses: an INVITE from an address no carrier lists
 * gets 403 and reaches neither the application nor any carrier, even one to an external number
 * whose catch-all application would dial it out; the same INVITE from a carrier's
 * `inboundAddresses` is answered and attributed to that carrier; a SIP user proving its password
 * (407, then Proxy-Authorization) is answered from any address. In development mode (what
 * `npm start` runs) loopback is trusted, which every other interop test relies on.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { AppServer, twiml, waitFor } from './harness/app-server.js';
import { apiGet, startPatchbay, TEST_ACCOUNT_SID, TEST_AUTH_TOKEN, type TestPatchbay } from './harness/patchbay.js';
import { runSipp } from './harness/sipp.js';

const authHeader = 'Basic ' + Buffer.from(`${TEST_ACCOUNT_SID}:${TEST_AUTH_TOKEN}`).toString('base64');

async function api(pb: TestPatchbay, method: string, path: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${pb.httpPort}${path}`, {
    method,
    headers: { authorization: authHeader, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

/** A UDP socket standing in for a carrier: it only counts what reaches it. */
async function carrierTrap(): Promise<{ socket: Socket; port: number; received: Buffer[] }> {
  const socket = createSocket('udp4');
  const received: Buffer[] = [];
  socket.on('message', (m) => received.push(m));
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  return { socket, port: socket.address().port, received };
}

describe('inbound access control in production mode', () => {
  let pb: TestPatchbay;
  const app = new AppServer();
  let trap: Awaited<ReturnType<typeof carrierTrap>>;
  const created: string[] = [];

  before(async () => {
    await app.start();
    // A naive forwarder: whatever number is called gets dialled out through the carrier.
    app.route('/voice', (req, res) => twiml(`<Response><Dial><Number>${req.params.To ?? ''}</Number></Dial></Response>`)(req, res));
    app.route('/user', twiml('<Response><Say>hello</Say><Hangup/></Response>'));
    app.route('/carrier-call', twiml('<Response><Say>hello</Say><Hangup/></Response>'));
    trap = await carrierTrap();
    pb = await startPatchbay({ PATCHBAY_VOICE_URL: app.url('/voice'), PATCHBAY_MODE: 'production', PATCHBAY_SIP_DIGEST_ALGORITHMS: 'MD5', PATCHBAY_SIP_AUTH_FAILURES_BEFORE_BAN: '4/60' });
    const carrier = await api(pb, 'POST', '/v1/carriers', { host: '127.0.0.1', port: trap.port, prefixes: ['+'], inboundAddresses: ['127.0.0.2/32'] });
    assert.equal(carrier.status, 201, JSON.stringify(carrier.body));
    created.push(`/v1/carriers/${carrier.body.sid as string}`);
  });

  after(async () => {
    for (const path of created) await api(pb, 'DELETE', path).catch(() => undefined);
    await pb?.dispose();
    await app.stop();
    trap?.socket.close();
  });

  it('refuses an INVITE from an unknown address with 403, to an external number too: no webhook, nothing sent to the carrier', async () => {
    app.requests.length = 0;
    for (const [source, service] of [['127.0.0.1', '+19005550100'], ['127.0.0.3', '+442071234567'], ['127.0.0.3', 'anything']]) {
      const r = await runSipp({ scenario: 'uac-expect-403.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 1, extra: ['-i', source!, '-s', service!] });
      assert.equal(r.successful, 1, `${source} → ${service}: ${r.errors}`);
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(app.requests.length, 0, 'the application was never asked');
    assert.equal(trap.received.length, 0, 'the carrier never saw a packet');
    const metrics = await (await fetch(`http://127.0.0.1:${pb.httpPort}/metrics`)).text();
    const refused = Number(/^patchbay_sip_invites_refused_total (\d+)/m.exec(metrics)?.[1] ?? 'NaN');
    assert.ok(refused >= 3, `metrics count the refusals: ${refused}`);
    // Refusals leave no call records: a scanner cannot fill the store.
    const calls = await apiGet(pb, '/v1/calls');
    assert.equal((calls.body.calls as unknown[]).length, 0);
  });

  it('bans a source that keeps sending INVITEs nobody admits (a scanner): no answer at all after the fifth', async () => {
    const r = await runSipp({ scenario: 'uac-expect-403.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 5, extra: ['-i', '127.0.0.4', '-s', '+19005550100', '-r', '5'] });
    assert.equal(r.successful, 5, r.errors);
    const metrics = await (await fetch(`http://127.0.0.1:${pb.httpPort}/metrics`)).text();
    assert.match(metrics, /^patchbay_sip_bans_total\{reason="auth-failures"\} 1$/m);
    const after = await runSipp({ scenario: 'uac-expect-403.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 1, extra: ['-i', '127.0.0.4', '-s', '+19005550100', '-recv_timeout', '3000'], timeoutSeconds: 10 });
    assert.equal(after.successful, 0, 'a banned source gets no answer');
    assert.equal(trap.received.length, 0);
  });

  it('answers the same INVITE from the carrier\'s inbound address and attributes the call to the carrier', async () => {
    app.requests.length = 0;
    app.route('/voice', twiml('<Response><Say>hello</Say><Hangup/></Response>'));
    const r = await runSipp({ scenario: 'uac-app-hangs-up.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 1, extra: ['-i', '127.0.0.2', '-s', '+14155550100'] });
    assert.equal(r.successful, 1, r.errors);
    const call = await waitFor(async () => {
      const list = await apiGet(pb, '/v1/calls');
      const sid = (list.body.calls as { sid: string }[])[0]?.sid;
      if (!sid) return null;
      const rec = await apiGet(pb, `/v1/calls/${sid}`);
      return rec.body.endTime ? rec.body : null;
    }, 10000, 'the call record');
    const invite = (call.events as { type: string; detail: Record<string, unknown> }[]).find((e) => e.type === 'sip.in' && e.detail.method === 'INVITE');
    assert.equal(invite?.detail.carrierSid, created[0]!.split('/').pop());
    assert.equal(call.status, 'completed');
    assert.equal(trap.received.length, 0);
  });

  it('answers a SIP user that authenticates, from an address nobody listed', async () => {
    const user = await api(pb, 'POST', '/v1/users', { username: 'alice', password: 'alice-secret', voiceUrl: app.url('/user') });
    assert.equal(user.status, 201, JSON.stringify(user.body));
    created.unshift(`/v1/users/${user.body.sid as string}`);
    app.requests.length = 0;
    const r = await runSipp({ scenario: 'uac-user-calls.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 1, keys: { caller: 'alice' }, extra: ['-i', '127.0.0.3', '-s', '+19005550100', '-au', 'alice', '-ap', 'alice-secret'] });
    assert.equal(r.successful, 1, r.errors);
    assert.equal(app.requestsTo('/user').length >= 1, true, 'the user\'s application ran');
    assert.equal(trap.received.length, 0);
  });

  // Last: once a carrier authenticates by digest, unknown sources are challenged (407) instead of refused outright.
  it('admits a carrier without a listed address that proves itself by digest, and refuses wrong credentials with 403', async () => {
    const trunk = await api(pb, 'POST', '/v1/carriers', { host: '127.0.0.1', port: trap.port, prefixes: ['+44'], inboundUsername: 'trunk-b', inboundPassword: 'trunk-b-secret' });
    assert.equal(trunk.status, 201, JSON.stringify(trunk.body));
    created.unshift(`/v1/carriers/${trunk.body.sid as string}`);
    assert.equal(trunk.body.inboundUsername, 'trunk-b');
    // The inbound policy reads carriers at most every 2 s.
    await new Promise((r) => setTimeout(r, 2200));
    app.requests.length = 0;
    app.route('/voice', twiml('<Response><Say>hello</Say><Hangup/></Response>'));
    const ok = await runSipp({ scenario: 'uac-user-calls.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 1, keys: { caller: '+15557654321' }, extra: ['-i', '127.0.0.5', '-s', '+14155550123', '-au', 'trunk-b', '-ap', 'trunk-b-secret'] });
    assert.equal(ok.successful, 1, ok.errors);
    const call = await waitFor(async () => {
      const list = await apiGet(pb, '/v1/calls?pageSize=1');
      const first = (list.body.calls as { sid: string; to: string }[])[0];
      if (!first || first.to !== '+14155550123') return null;
      const rec = await apiGet(pb, `/v1/calls/${first.sid}`);
      return rec.body.endTime ? rec.body : null;
    }, 10000, 'the carrier call record');
    const invite = (call.events as { type: string; detail: Record<string, unknown> }[]).find((e) => e.type === 'sip.in' && e.detail.method === 'INVITE');
    assert.equal(invite?.detail.carrierSid, trunk.body.sid);
    assert.equal(call.from, '+15557654321');

    const wrong = await runSipp({ scenario: 'uac-auth-expect-403.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 1, keys: { caller: '+15557654321' }, extra: ['-i', '127.0.0.5', '-s', '+14155550124', '-au', 'trunk-b', '-ap', 'not-the-password'] });
    assert.equal(wrong.successful, 1, wrong.errors);
    assert.equal(app.requestsTo('/voice').filter((r) => r.params.To === '+14155550124').length, 0, 'the refused call never reached the application');
    assert.equal(trap.received.length, 0);
  });
});
