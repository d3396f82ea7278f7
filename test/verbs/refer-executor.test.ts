/** `<Refer>` executor against a scripted call: the request, the action parameters, and what follows without an action. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readTwiml } from '../../src/verbs/twiml-reader.js';
import { executeVerb } from '../../src/verbs/verb-executor.js';
import type { ReferVerb } from '../../src/verbs/verb-model.js';
import { TransferCall, codedError } from './transfer-call.js';

const referOf = (xml: string): ReferVerb => readTwiml(`<Response>${xml}</Response>`).verbs[0] as ReferVerb;
const ctx = () => ({ documentUrl: 'https://app.test/voice', signal: new AbortController().signal });

describe('<Refer> executor', () => {
  it('completed with an action: REFER target and headers, then ReferCallStatus and both SIP codes', async () => {
    const call = new TransferCall();
    call.onRefer = async () => ({ status: 'completed', referSipResponseCode: 202, notifySipResponseCode: 200 });
    const outcome = await executeVerb(referOf('<Refer action="done"><Sip>sip:agent@pbx.example?X-Ticket=9</Sip></Refer>'), call.control(), ctx());
    assert.deepEqual(call.referRequests, [{ target: 'sip:agent@pbx.example', headers: [['X-Ticket', '9']] }]);
    assert.deepEqual(outcome, { kind: 'redirect', url: 'https://app.test/done', method: 'POST', params: { ReferCallStatus: 'completed', ReferSipResponseCode: '202', NotifySipResponseCode: '200' } });
  });

  it('an unanswered call is answered before the REFER (it goes on the confirmed dialog); an answered one is not answered again', async () => {
    const call = new TransferCall();
    const order: string[] = [];
    call.onRefer = async () => {
      order.push('refer');
      return { status: 'failed', referSipResponseCode: 603, notifySipResponseCode: null };
    };
    const unanswered = { ...call.control(), answered: false, answer: async () => void order.push('answer') };
    await executeVerb(referOf('<Refer><Sip>sip:b@h</Sip></Refer>'), unanswered, ctx());
    assert.deepEqual(order, ['answer', 'refer']);
    order.length = 0;
    const answered = { ...call.control(), answered: true, answer: async () => void order.push('answer') };
    await executeVerb(referOf('<Refer><Sip>sip:b@h</Sip></Refer>'), answered, ctx());
    assert.deepEqual(order, ['refer']);
  });

  it('failed with an action: codes that never came are left out', async () => {
    const call = new TransferCall();
    call.onRefer = async () => ({ status: 'failed', referSipResponseCode: 405, notifySipResponseCode: null });
    const outcome = await executeVerb(referOf('<Refer action="/r" method="GET"><Sip>sip:b@h</Sip></Refer>'), call.control(), ctx());
    assert.deepEqual(outcome, { kind: 'redirect', url: 'https://app.test/r', method: 'GET', params: { ReferCallStatus: 'failed', ReferSipResponseCode: '405' } });
  });

  it('without an action: a completed transfer ends the call, a failed one goes on with the next verb', async () => {
    const call = new TransferCall();
    call.onRefer = async () => ({ status: 'completed', referSipResponseCode: 202, notifySipResponseCode: 200 });
    assert.deepEqual(await executeVerb(referOf('<Refer><Sip>sip:b@h</Sip></Refer>'), call.control(), ctx()), { kind: 'hangup' });
    call.onRefer = async () => ({ status: 'failed', referSipResponseCode: 202, notifySipResponseCode: 503 });
    assert.deepEqual(await executeVerb(referOf('<Refer><Sip>sip:b@h</Sip></Refer>'), call.control(), ctx()), { kind: 'next' });
  });

  it('the far end hangs up once transferred: the action is still requested in the background', async () => {
    const call = new TransferCall();
    call.onRefer = async () => {
      call.ended = true;
      return { status: 'completed', referSipResponseCode: 202, notifySipResponseCode: 200 };
    };
    assert.deepEqual(await executeVerb(referOf('<Refer action="/r"><Sip>sip:b@h</Sip></Refer>'), call.control(), ctx()), { kind: 'hangup' });
    assert.deepEqual(call.callbacks, [{ url: 'https://app.test/r', method: 'POST', params: { ReferCallStatus: 'completed', ReferSipResponseCode: '202', NotifySipResponseCode: '200' } }]);
  });

  it('a coded failure (not a SIP leg...) is recorded and reported as failed; an uncoded one propagates', async () => {
    const call = new TransferCall();
    call.onRefer = () => Promise.reject(codedError(12200, 'the call has no SIP leg to refer'));
    const outcome = await executeVerb(referOf('<Refer action="/r"><Sip>sip:b@h</Sip></Refer>'), call.control(), ctx());
    assert.deepEqual(outcome, { kind: 'redirect', url: 'https://app.test/r', method: 'POST', params: { ReferCallStatus: 'failed' } });
    assert.equal(call.notes.find((n) => n.type === 'error')?.detail.code, 12200);
    call.onRefer = () => Promise.reject(new Error('bug'));
    await assert.rejects(executeVerb(referOf('<Refer><Sip>sip:b@h</Sip></Refer>'), call.control(), ctx()), /bug/);
  });
});
