/**
 * Per-account inbound limits against a real Patchbay and SIPp: with `--account-inbound-max-calls 2`
 * a third call while two are live gets 503 "Account Call Limit" without reaching the application,
 * and a call after they ended is answered again; with `--account-inbound-cps 1` (a burst of two) a
 * rapid burst of calls has all but the first two refused with 503 "Account Rate Limit". Which
 * accounts keep their capacity while another is at its limit is covered by the unit tests
 * (test/calls/account-call-limits.test.ts): the interop harness serves one account.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppServer, twiml, waitFor } from './harness/app-server.js';
import { startPatchbay, type TestPatchbay } from './harness/patchbay.js';
import { runSipp } from './harness/sipp.js';

async function overLimit(pb: TestPatchbay, limit: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${pb.httpPort}/metrics`)).text();
  return Number(new RegExp(`^patchbay_sip_invites_over_limit_total\\{limit="${limit}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? '0');
}

describe('per-account inbound limits', () => {
  const app = new AppServer();

  before(async () => {
    await app.start();
    // A leading <Pause> would delay the answer (as on Twilio): answer with <Say> first.
    app.route('/hold', twiml('<Response><Say>Hold on.</Say><Pause length="3"/><Hangup/></Response>'));
    app.route('/short', twiml('<Response><Say>Hi.</Say><Hangup/></Response>'));
  });

  after(async () => {
    await app.stop();
  });

  describe('live calls', () => {
    let pb: TestPatchbay;
    before(async () => {
      pb = await startPatchbay({ PATCHBAY_VOICE_URL: app.url('/hold'), PATCHBAY_ACCOUNT_INBOUND_MAX_CALLS: '2' });
    });
    after(async () => pb?.dispose());

    it('refuses a third call with 503 while two are live, without asking the app, and admits again once they end', async () => {
      app.requests.length = 0;
      const live = runSipp({ scenario: 'uac-app-hangs-up.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 2, rate: 10 });
      await waitFor(() => pb.registry.size === 2, 10000, 'two live calls');
      const refused = await runSipp({ scenario: 'uac-expect-503.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 1, traceMessages: true });
      assert.equal(refused.successful, 1, refused.errors);
      assert.ok(refused.messages.some((m) => /^SIP\/2\.0 503 Account Call Limit/m.test(m) && /^Retry-After: \d+/m.test(m)), refused.messages.join('\n---\n'));
      assert.equal(app.requests.length, 2, 'only the two admitted calls reached the application');
      assert.equal(await overLimit(pb, 'account-calls'), 1);

      const first = await live;
      assert.equal(first.successful, 2, first.errors);
      await waitFor(() => pb.registry.size === 0, 10000, 'the two calls ended');
      const again = await runSipp({ scenario: 'uac-app-hangs-up.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 1 });
      assert.equal(again.successful, 1, again.errors);
    });
  });

  describe('calls per second', () => {
    let pb: TestPatchbay;
    before(async () => {
      pb = await startPatchbay({ PATCHBAY_VOICE_URL: app.url('/short'), PATCHBAY_ACCOUNT_INBOUND_CPS: '1' });
    });
    after(async () => pb?.dispose());

    it('admits the burst (two) of a rapid run of six calls and refuses the rest with 503 Account Rate Limit', async () => {
      app.requests.length = 0;
      const burst = await runSipp({ scenario: 'uac-app-hangs-up.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 6, rate: 100, concurrency: 6 });
      // Six INVITEs within ~50 ms: two tokens in the bucket; a slow machine may refill a third.
      assert.ok(burst.successful >= 2 && burst.successful <= 3, `answered ${burst.successful}: ${burst.errors}`);
      assert.equal(burst.failed, 6 - burst.successful);
      const refused = await overLimit(pb, 'account-rate');
      assert.equal(refused, burst.failed, 'every failed call was refused by the rate limit');
      assert.equal(app.requests.filter((r) => r.path === '/short').length, burst.successful, 'refused calls never reached the application');
    });
  });
});
