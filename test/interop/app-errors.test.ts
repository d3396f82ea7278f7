/**
 * Broken applications never crash anything: each failure ends the call with Twilio's error code on
 * the record, the fallback URL is used when configured (with ErrorCode/ErrorUrl), the caller hears
 * the spoken apology otherwise, and Patchbay keeps serving calls.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AppServer, twiml, waitFor } from './harness/app-server.js';
import { startPatchbay, apiGet, type TestPatchbay } from './harness/patchbay.js';
import { runSipp } from './harness/sipp.js';

interface Case {
  name: string;
  route: string;
  code: number;
  handler?: Parameters<AppServer['route']>[1];
}

const CASES: Case[] = [
  { name: 'webhook timeout', route: '/slow', code: 11205, handler: async (_r, res) => { await new Promise((r) => setTimeout(r, 2500)); res.writeHead(200, { 'content-type': 'text/xml' }).end('<Response/>'); } },
  { name: 'connection refused', route: 'refused', code: 11205 },
  { name: 'HTTP 500', route: '/error500', code: 11200, handler: (_r, res) => void res.writeHead(500).end('boom') },
  { name: 'wrong content type', route: '/png', code: 12300, handler: (_r, res) => void res.writeHead(200, { 'content-type': 'image/png' }).end(Buffer.from([0x89, 0x50, 0x4e, 0x47])) },
  { name: 'malformed XML', route: '/badxml', code: 12100, handler: twiml('<Response><Say>unclosed</Response>') },
  { name: 'malformed JSON', route: '/badjson', code: 12100, handler: (_r, res) => void res.writeHead(200, { 'content-type': 'application/json' }).end('[{"verb":"say",') },
  { name: 'unknown verb', route: '/unknown', code: 12200, handler: twiml('<Response><Dance/></Response>') },
  { name: 'bad attribute', route: '/badattr', code: 13510, handler: twiml('<Response><Say loop="-1">x</Say></Response>') },
];

async function callOnce(pb: TestPatchbay): Promise<void> {
  const r = await runSipp({ scenario: 'uac-app-hangs-up.xml', target: `127.0.0.1:${pb.sipPort}`, calls: 1, rate: 1 });
  assert.equal(r.failed, 0, r.errors);
  await waitFor(() => pb.registry.size === 0, 10000, 'call to end');
}

async function lastCall(pb: TestPatchbay): Promise<any> {
  const list = await apiGet(pb, '/v1/calls?pageSize=1');
  return (await apiGet(pb, `/v1/calls/${list.body.calls[0].sid}`)).body;
}

describe('bad applications', () => {
  let app: AppServer;
  let pb: TestPatchbay;

  before(async () => {
    app = await new AppServer().start();
    for (const c of CASES) if (c.handler) app.route(c.route, c.handler);
    app.route('/ok', twiml('<Response><Say>All good.</Say><Hangup/></Response>'));
    app.route('/fallback', twiml('<Response><Say>Fallback speaking.</Say><Hangup/></Response>'));
    pb = await startPatchbay({ PATCHBAY_VOICE_URL: app.url('/ok'), PATCHBAY_WEBHOOK_TIMEOUT: '1' });
  });

  after(async () => {
    await pb?.dispose();
    await app?.stop();
  });

  for (const c of CASES) {
    it(`${c.name} → error ${c.code}, apology, call ends cleanly`, async () => {
      pb.config.voiceUrl = c.route === 'refused' ? 'http://127.0.0.1:9/voice' : app.url(c.route);
      await callOnce(pb);
      const rec = await lastCall(pb);
      assert.equal(rec.errorCode, c.code, JSON.stringify(rec.events?.filter((e: any) => e.type === 'webhook' || e.type === 'error')));
      assert.equal(rec.status, 'completed');
      // The apology was played: the call was answered and lasted as long as the spoken sentence.
      assert.ok(rec.answerTime, 'answered to apologize');
      const spoken = new Date(rec.endTime).getTime() - new Date(rec.answerTime).getTime();
      assert.ok(spoken > 2000, `apology lasted ${spoken} ms`);
      assert.equal(rec.endReason, 'application-error');
    });
  }

  it('uses the fallback URL with ErrorCode and ErrorUrl', async () => {
    pb.config.voiceUrl = app.url('/error500');
    pb.config.fallbackUrl = app.url('/fallback');
    try {
      await callOnce(pb);
      const fb = app.requestsTo('/fallback').at(-1)!;
      assert.equal(fb.params.ErrorCode, '11200');
      assert.equal(fb.params.ErrorUrl, app.url('/error500'));
      assert.match(fb.params.CallSid!, /^CA/);
      const rec = await lastCall(pb);
      assert.equal(rec.errorCode, 11200);
      assert.equal(rec.status, 'completed');
      assert.notEqual(rec.endReason, 'application-error');
    } finally {
      pb.config.fallbackUrl = null;
    }
  });

  it('still serves normal calls after all of that', async () => {
    pb.config.voiceUrl = app.url('/ok');
    await callOnce(pb);
    const rec = await lastCall(pb);
    assert.equal(rec.errorCode, null);
    assert.equal(rec.status, 'completed');
  });
});
