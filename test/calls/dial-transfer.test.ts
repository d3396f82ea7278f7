/**
 * sendRefer (`<Refer>`'s engine) on a real UAS Dialog whose stack is scripted: what the REFER
 * carries, how the NOTIFYs of its implicit subscription (RFC 3515 §2.4.4) decide the result, and
 * that the wait ends when the call does. Timers are node:test's mocked timers (the 60 s NOTIFY
 * wait never runs on the wall clock).
 */
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import assert from 'node:assert/strict';
import { Dialog, uasDialogInit, type DialogHost } from '../../src/sip/dialog.js';
import { createRequest, createResponse, type SipRequest, type SipResponse } from '../../src/sip/message.js';
import { sendRefer } from '../../src/calls/dial-transfer.js';
import type { Call } from '../../src/calls/call.js';
import type { ReferResult } from '../../src/verbs/call-control.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { sampleRequest, sampleResponse } from '../helpers/sip-fixtures.js';

/** A dialog as an answered inbound call has it; `refer` decides when and how the REFER is answered. */
function setup() {
  const sent: SipRequest[] = [];
  let answerRefer: (req: SipRequest) => Promise<SipResponse | null> = async (req) => createResponse(req, 202);
  const host: DialogHost = {
    clock: new FakeClock(),
    timers: { t1: 500, t2: 4000, t4: 5000 },
    contact: () => 'sip:patchbay@127.0.0.1:5060',
    request: (req) => {
      sent.push(req);
      return answerRefer(req);
    },
    sendAck: () => undefined,
    forget: () => undefined,
  };
  const invite = sampleRequest('INVITE', { cseq: 1 });
  const dialog = new Dialog(host, uasDialogInit(invite, sampleResponse(invite, 200, 'pb1'), 'udp')!);
  const notes: Array<{ type: string; detail: Record<string, unknown> }> = [];
  // sendRefer needs only these of a Call: its dialog, whether it ended, and its timeline.
  const call = { sipDialog: dialog, ended: false, note: (type: string, detail: Record<string, unknown>) => void notes.push({ type, detail }) } as unknown as Call;
  let cseq = 1;
  /** The transferee's NOTIFY (sipfrag status line), as the stack hands it to the dialog; returns our answer. */
  const notify = (status: string, state: string): number | undefined => {
    const req = createRequest('NOTIFY', 'sip:patchbay@127.0.0.1:5060', [
      { name: 'Via', value: `SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKn${++cseq}` },
      { name: 'From', value: '<sip:alice@127.0.0.1>;tag=from1' },
      { name: 'To', value: '<sip:bob@127.0.0.1>;tag=pb1' },
      { name: 'Call-ID', value: 'call-1@test' },
      { name: 'CSeq', value: `${cseq} NOTIFY` },
      { name: 'Event', value: 'refer' },
      { name: 'Subscription-State', value: state },
      { name: 'Content-Type', value: 'message/sipfrag;version=2.0' },
    ], Buffer.from(`SIP/2.0 ${status}\r\n`));
    let answered: number | undefined;
    dialog.handleRequest(req, { reply: (res) => void (answered = res.status), resend: () => undefined });
    return answered;
  };
  return { sent, dialog, call, notes, notify, onRefer: (f: typeof answerRefer) => (answerRefer = f) };
}

/** Lets pending promise callbacks run (mocked timers do not move). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Tracks whether a promise has settled, without awaiting it. */
function track(p: Promise<ReferResult>): { result: ReferResult | null } {
  const box: { result: ReferResult | null } = { result: null };
  void p.then((r) => (box.result = r));
  return box;
}

describe('sendRefer', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
  afterEach(() => mock.timers.reset());

  it('sends REFER with Refer-To (headers %-escaped in the URI) and Referred-By; NOTIFY 100 then 200 → completed/202/200', async () => {
    const t = setup();
    const box = track(sendRefer(t.call, { target: 'sip:agent@example.com', headers: [['X-Foo', 'bar baz'], ['X-Ticket', '42']] }, new AbortController().signal));
    await settle();
    const refer = t.sent[0]!;
    assert.equal(refer.method, 'REFER');
    assert.equal(refer.headers.get('refer-to'), '<sip:agent@example.com?X-Foo=bar%20baz&X-Ticket=42>');
    assert.equal(refer.headers.get('referred-by'), '<sip:bob@127.0.0.1>');
    assert.equal(t.notify('100 Trying', 'active;expires=60'), 200);
    await settle();
    assert.equal(box.result, null, 'a provisional sipfrag does not end the wait');
    assert.equal(t.notify('200 OK', 'terminated;reason=noresource'), 200);
    await settle();
    assert.deepEqual(box.result, { status: 'completed', referSipResponseCode: 202, notifySipResponseCode: 200 });
    assert.equal(t.notify('200 OK', 'terminated;reason=noresource'), 481, 'the subscription is over: no listener any more');
  });

  it('a final failure sipfrag (486) → failed/202/486', async () => {
    const t = setup();
    const box = track(sendRefer(t.call, { target: 'sip:agent@example.com', headers: [] }, new AbortController().signal));
    await settle();
    t.notify('100 Trying', 'active;expires=60');
    t.notify('486 Busy Here', 'terminated;reason=noresource');
    await settle();
    assert.deepEqual(box.result, { status: 'failed', referSipResponseCode: 202, notifySipResponseCode: 486 });
  });

  it('a NOTIFY that overtakes the 202 (RFC 6665 §4.1.2.4) still counts', async () => {
    const t = setup();
    let release!: () => void;
    t.onRefer((req) => new Promise((resolve) => (release = () => resolve(createResponse(req, 202)))));
    const box = track(sendRefer(t.call, { target: 'sip:agent@example.com', headers: [] }, new AbortController().signal));
    await settle();
    assert.equal(t.notify('200 OK', 'terminated;reason=noresource'), 200);
    release();
    await settle();
    assert.deepEqual(box.result, { status: 'completed', referSipResponseCode: 202, notifySipResponseCode: 200 });
  });

  it('REFER refused (603) → failed/603, no NOTIFY code, and no wait', async () => {
    const t = setup();
    t.onRefer(async (req) => createResponse(req, 603));
    const result = await sendRefer(t.call, { target: 'sip:agent@example.com', headers: [] }, new AbortController().signal);
    assert.deepEqual(result, { status: 'failed', referSipResponseCode: 603, notifySipResponseCode: null });
  });

  it('no final NOTIFY within 60 s → failed with the last progress seen', async () => {
    const t = setup();
    const box = track(sendRefer(t.call, { target: 'sip:agent@example.com', headers: [] }, new AbortController().signal));
    await settle();
    t.notify('100 Trying', 'active;expires=60');
    mock.timers.tick(59_999);
    await settle();
    assert.equal(box.result, null);
    mock.timers.tick(1);
    await settle();
    assert.deepEqual(box.result, { status: 'failed', referSipResponseCode: 202, notifySipResponseCode: 100 });
  });

  it('the call ends while the REFER is in its transaction: the wait ends at once (the abort event came before the listener)', async () => {
    const t = setup();
    const ending = new AbortController();
    let release!: () => void;
    t.onRefer((req) => new Promise((resolve) => (release = () => resolve(createResponse(req, 202)))));
    const box = track(sendRefer(t.call, { target: 'sip:agent@example.com', headers: [] }, ending.signal));
    await settle();
    ending.abort();
    release();
    await settle();
    assert.deepEqual(box.result, { status: 'failed', referSipResponseCode: 202, notifySipResponseCode: null });
  });

  it('the call ends while waiting for NOTIFYs: the wait ends with what came so far', async () => {
    const t = setup();
    const ending = new AbortController();
    const box = track(sendRefer(t.call, { target: 'sip:agent@example.com', headers: [] }, ending.signal));
    await settle();
    t.notify('100 Trying', 'active;expires=60');
    ending.abort();
    await settle();
    assert.deepEqual(box.result, { status: 'failed', referSipResponseCode: 202, notifySipResponseCode: 100 });
  });
});
