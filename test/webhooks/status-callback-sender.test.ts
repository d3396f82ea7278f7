import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { WebhookClient } from '../../src/webhooks/webhook-client.js';
import { StatusCallbackSender, type StatusCallbackJob } from '../../src/webhooks/status-callback-sender.js';
import { TestAppServer, closedPort } from './test-app-server.js';

describe('StatusCallbackSender', () => {
  let app: TestAppServer;
  /** Responses the server holds back until the test releases them, keyed by "call:seq". */
  const held = new Map<string, ServerResponse>();
  const holdKeys = new Set<string>();

  before(async () => {
    app = await new TestAppServer({
      '/status': (r, res) => {
        const key = `${r.params.CallSid}:${r.params.SequenceNumber}`;
        if (holdKeys.has(key)) held.set(key, res);
        else res.writeHead(204).end();
      },
    }).start();
  });
  after(() => app.close());

  const job = (callSid: string, seq: number, url = app.base + '/status'): StatusCallbackJob => ({
    callSid,
    url,
    method: 'POST',
    params: { CallSid: callSid, SequenceNumber: String(seq) },
    authToken: 'token',
  });
  const seen = (from: number): string[] => app.requests.slice(from).map((r) => `${r.params.CallSid}:${r.params.SequenceNumber}`);

  it('keeps per-call order while another call proceeds in parallel', async () => {
    const start = app.requests.length;
    holdKeys.add('CA1:0');
    let ca2Done!: () => void;
    const ca2Finished = new Promise<void>((resolve) => (ca2Done = resolve));
    const sender = new StatusCallbackSender(new WebhookClient(), { timeoutMs: 5000, onResult: (j) => j.callSid === 'CA2' && ca2Done() });
    sender.enqueue(job('CA1', 0));
    sender.enqueue(job('CA1', 1));
    sender.enqueue(job('CA1', 2));
    sender.enqueue(job('CA2', 0));
    // CA2 is not stuck behind CA1's slow first callback...
    await ca2Finished;
    await app.waitForRequests(start + 2);
    assert.deepEqual(seen(start).sort(), ['CA1:0', 'CA2:0']);
    // ...and CA1's later callbacks wait for its first one.
    assert.equal(sender.pending, 3, 'CA1:0 in flight, CA1:1 and CA1:2 waiting');
    held.get('CA1:0')!.writeHead(200).end();
    await sender.drain(5000);
    assert.deepEqual(seen(start).filter((k) => k.startsWith('CA1')), ['CA1:0', 'CA1:1', 'CA1:2']);
    assert.deepEqual(sender.stats, { sent: 4, failed: 0, dropped: 0 });
    assert.equal(sender.pending, 0);
  });

  it('drops the oldest waiting callbacks of a call past its queue bound, and counts them', async () => {
    const start = app.requests.length;
    holdKeys.add('CA3:0');
    const results: Array<[string, boolean | null]> = [];
    const sender = new StatusCallbackSender(new WebhookClient(), {
      maxQueuePerCall: 2,
      onResult: (j, r) => results.push([j.params.SequenceNumber!, r === null ? null : r.ok]),
    });
    sender.enqueue(job('CA3', 0));
    await app.waitForRequests(start + 1);
    for (let i = 1; i <= 4; i++) sender.enqueue(job('CA3', i));
    assert.equal(sender.stats.dropped, 2);
    held.get('CA3:0')!.writeHead(204).end();
    await sender.drain(5000);
    assert.deepEqual(seen(start), ['CA3:0', 'CA3:3', 'CA3:4']);
    assert.deepEqual(results, [['1', null], ['2', null], ['0', true], ['3', true], ['4', true]]);
    assert.deepEqual(sender.stats, { sent: 3, failed: 0, dropped: 2 });
  });

  it('counts failures and keeps going', async () => {
    const port = await closedPort();
    const sender = new StatusCallbackSender(new WebhookClient(), { timeoutMs: 2000 });
    sender.enqueue(job('CA4', 0, `http://127.0.0.1:${port}/status`));
    sender.enqueue(job('CA4', 1));
    await sender.drain(5000);
    assert.deepEqual(sender.stats, { sent: 1, failed: 1, dropped: 0 });
  });

  it('drain gives up after its timeout while a callback is still in flight', async () => {
    const start = app.requests.length;
    holdKeys.add('CA5:0');
    const sender = new StatusCallbackSender(new WebhookClient(), { timeoutMs: 5000 });
    sender.enqueue(job('CA5', 0));
    await app.waitForRequests(start + 1);
    await sender.drain(20);
    assert.equal(sender.pending, 1, 'still in flight after drain timed out');
    held.get('CA5:0')!.writeHead(204).end();
    await sender.drain(5000);
    assert.equal(sender.pending, 0);
  });

  it('limits requests in flight across calls', async () => {
    const start = app.requests.length;
    for (const k of ['CA6:0', 'CA7:0']) holdKeys.add(k);
    const sender = new StatusCallbackSender(new WebhookClient(), { maxConcurrent: 1 });
    sender.enqueue(job('CA6', 0));
    sender.enqueue(job('CA7', 0));
    await app.waitForRequests(start + 1);
    assert.equal(app.requests.length, start + 1, 'second call waits for a slot');
    held.get(seen(start)[0]!)!.writeHead(204).end();
    await app.waitForRequests(start + 2);
    held.get(seen(start)[1]!)!.writeHead(204).end();
    await sender.drain(5000);
    assert.equal(sender.stats.sent, 2);
  });
});
