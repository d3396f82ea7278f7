/**
 * No secret reaches the logs, at the most verbose level: a real Patchbay logs at `trace` into a
 * buffer (the same createLogger the server uses by default) while requests carry every kind of
 * secret: API Basic auth (the auth token, a wrong password, an API key secret), a carrier created
 * with a password and registering with it, a SIP user created with a password, a device
 * REGISTERing with a digest (SIPp), and a call whose webhooks carry X-Twilio-Signature. Then the
 * whole log output is searched for each secret and for what is derived from it (HA1, signatures,
 * digest responses, base64 credentials).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logging/logger.js';
import { startServer, type RunningServer } from '../../src/server.js';
import { AppServer, twiml, waitFor } from './harness/app-server.js';
import { runSipp } from './harness/sipp.js';

const ACCOUNT_SID = 'AC' + 'fedcba9876543210'.repeat(2);
const AUTH_TOKEN = 'auth-token-SECRET-0f1e2d3c';
const WRONG_PASSWORD = 'wrong-password-GUESS-9a8b7c';
const CARRIER_PASSWORD = 'carrier-pass-SECRET-4d5e6f';
const USER_PASSWORD = 'user-pass-SECRET-7a8b9c';
const REALM = 'secrets.test';

describe('secrets never logged (trace level)', () => {
  const lines: string[] = [];
  let dir: string;
  let app: AppServer;
  let pb: RunningServer;
  let base: string;
  const derived: string[] = [];

  const api = async (method: string, path: string, body?: unknown, user = ACCOUNT_SID, pass = AUTH_TOKEN): Promise<{ status: number; json: any }> => {
    const auth = Buffer.from(`${user}:${pass}`).toString('base64');
    derived.push(auth);
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Basic ${auth}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, json: text ? JSON.parse(text) : null };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'pb-secrets-'));
    app = await new AppServer().start();
    app.route('/voice', twiml('<Response><Say>Hello.</Say><Hangup/></Response>'));
    app.route('/status', (_r, res) => void res.writeHead(204).end());
    const config = loadConfig([], {
      PATCHBAY_SIP_HOST: '127.0.0.1', PATCHBAY_SIP_PORT: '0', PATCHBAY_HTTP_HOST: '127.0.0.1', PATCHBAY_HTTP_PORT: '0',
      PATCHBAY_DATA_DIR: dir, PATCHBAY_ACCOUNT_SID: ACCOUNT_SID, PATCHBAY_AUTH_TOKEN: AUTH_TOKEN, PATCHBAY_DRAIN_GRACE: '1',
      PATCHBAY_LOG_LEVEL: 'trace', PATCHBAY_VOICE_URL: app.url('/voice'), PATCHBAY_STATUS_CALLBACK: app.url('/status'),
      PATCHBAY_SIP_REALM: REALM, PATCHBAY_SIP_DIGEST_ALGORITHMS: 'MD5', PATCHBAY_TLS_PORT: 'off', PATCHBAY_WS_PORT: 'off', PATCHBAY_WSS_PORT: 'off',
    });
    const logger = createLogger({ level: 'trace', destination: { write: (line: string) => void lines.push(line) } });
    pb = await startServer(config, { logger });
    base = `http://127.0.0.1:${pb.httpPort}`;
  });

  after(async () => {
    await pb?.stop('test-end');
    await app?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('performs requests carrying each secret, and none of them appears in the log', async () => {
    // API Basic auth: right token, wrong password, an API key and its secret.
    assert.equal((await api('GET', '/v1/calls')).status, 200);
    assert.equal((await api('GET', '/v1/calls', undefined, ACCOUNT_SID, WRONG_PASSWORD)).status, 401);
    const key = await api('POST', '/v1/keys', { friendlyName: 'ci' });
    assert.equal(key.status, 201);
    const keySecret: string = key.json.secret;
    assert.equal((await api('GET', '/v1/numbers', undefined, key.json.sid, keySecret)).status, 200);
    // A 500 path must not dump the request either: a malformed body is logged at most as an error.
    await api('POST', '/v1/applications', { friendlyName: 'x'.repeat(70) });

    // A carrier with a password that registers (to a port where nobody answers).
    const carrier = await api('POST', '/v1/carriers', { host: '127.0.0.1', port: 9, username: 'trunk', password: CARRIER_PASSWORD, register: true });
    assert.equal(carrier.status, 201, JSON.stringify(carrier.json));
    assert.ok(!JSON.stringify(carrier.json).includes(CARRIER_PASSWORD), 'the API does not echo the carrier password');

    // A SIP user, and a device registering with a digest.
    const user = await api('POST', '/v1/users', { username: 'desk', password: USER_PASSWORD });
    assert.equal(user.status, 201, JSON.stringify(user.json));
    derived.push(createHash('md5').update(`desk:${REALM}:${USER_PASSWORD}`).digest('hex'));
    derived.push(createHash('sha256').update(`desk:${REALM}:${USER_PASSWORD}`).digest('hex'));
    const reg = await runSipp({
      scenario: 'register-md5.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 1, keys: { user: 'desk', expires: '60' },
      extra: ['-au', 'desk', '-ap', USER_PASSWORD], timeoutSeconds: 10, traceMessages: true,
    });
    assert.equal(reg.successful, 1, reg.errors);
    const digestResponse = reg.messages.join('\n').match(/response="([0-9a-f]{32})"/)?.[1];
    assert.ok(digestResponse, 'SIPp sent a digest response');
    derived.push(digestResponse);

    // A call: its webhooks and status callbacks are signed with the auth token.
    const call = await runSipp({ scenario: 'uac-app-hangs-up.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 1, rate: 1, timeoutSeconds: 30 });
    assert.equal(call.failed, 0, call.errors);
    await waitFor(() => app.requestsTo('/status').length > 0, 10000, 'status callback');
    for (const r of app.requests) derived.push(String(r.headers['x-twilio-signature']));

    // Logs were written at all (else the test proves nothing).
    const log = lines.join('');
    assert.ok(lines.length > 8, `only ${lines.length} log lines`);
    assert.match(log, /"level":10|"level":20/, 'trace/debug lines present');
    assert.match(log, /http request/);
    assert.match(log, /registrations changed/);

    const secrets: Record<string, string> = {
      'auth token': AUTH_TOKEN, 'wrong password': WRONG_PASSWORD, 'API key secret': keySecret, 'carrier password': CARRIER_PASSWORD,
      'SIP user password': USER_PASSWORD,
    };
    derived.forEach((d, i) => (secrets[`derived #${i}`] = d));
    for (const [what, secret] of Object.entries(secrets)) {
      assert.ok(secret.length >= 16, `${what} is long enough to search for`);
      const at = log.indexOf(secret);
      assert.equal(at, -1, `${what} appears in the log: …${log.slice(Math.max(0, at - 200), at + 50)}`);
    }
  });
});
