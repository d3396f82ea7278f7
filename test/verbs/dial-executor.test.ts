/**
 * `<Dial>` executor against a scripted call: what the engine is asked (every URL absolute), what the
 * action gets for each outcome, and the caller hanging up during the dial.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readTwiml } from '../../src/verbs/twiml-reader.js';
import { executeVerb } from '../../src/verbs/verb-executor.js';
import type { DialVerb } from '../../src/verbs/verb-model.js';
import { TransferCall, codedError, dialResult } from './transfer-call.js';

const DOC = 'https://app.test/voice/incoming';

function dialOf(xml: string): DialVerb {
  return readTwiml(`<Response>${xml}</Response>`).verbs[0] as DialVerb;
}

const ctx = (signal = new AbortController().signal, documentUrl: string | null = DOC) => ({ documentUrl, signal });

describe('<Dial> executor', () => {
  it('asks the engine with every URL resolved against the document and the verb signal', async () => {
    const call = new TransferCall();
    let seenSignal: AbortSignal | null = null;
    call.onDial = async (_req, signal) => {
      seenSignal = signal;
      return dialResult({ status: 'no-answer' });
    };
    const verb = dialOf(
      '<Dial action="next" timeout="12" callerId="+15550001111" record="true" recordingStatusCallback="rec" referUrl="/refer" answerOnBridge="true">' +
        '<Number url="whisper.xml" statusCallback="../leg" statusCallbackEvent="answered">+1 555 0100</Number>' +
        '<Sip url="https://other.test/w">sip:b@h.example?X-A=1</Sip><Client statusCallback="cb">alice</Client></Dial>',
    );
    const c = ctx();
    await executeVerb(verb, call.control(), c);
    assert.equal(seenSignal, c.signal);
    const { verb: _v, action: _a, method: _m, ...rest } = verb;
    assert.deepEqual(call.dialRequests, [{
      ...rest,
      recordingStatusCallback: 'https://app.test/voice/rec',
      referUrl: 'https://app.test/refer',
      targets: [
        { ...verb.targets[0]!, url: 'https://app.test/voice/whisper.xml', statusCallback: 'https://app.test/leg' },
        { ...verb.targets[1]!, url: 'https://other.test/w' },
        { ...verb.targets[2]!, statusCallback: 'https://app.test/voice/cb' },
      ],
    }]);
    assert.ok(!('action' in call.dialRequests[0]!) && !('verb' in call.dialRequests[0]!));
    assert.equal(call.dialRequests[0]!.record, 'record-from-answer');
  });

  it('completed: the action gets status, SID, duration, bridged, recording and the SIP details (X- headers only)', async () => {
    const call = new TransferCall();
    call.onDial = async () => dialResult({
      status: 'completed', callSid: 'CA0001', durationSeconds: 42, bridged: true, sipCallId: 'abc@pbx', sipResponseCode: 200,
      sipHeaders: { 'X-Agent': '7', Server: 'pbx/1.0', 'x-queue': 'sales' }, recordingUrl: 'https://pb.test/Recordings/RE1',
    });
    const outcome = await executeVerb(dialOf('<Dial action="/after" method="GET"><Sip>sip:agent@pbx.example</Sip></Dial>'), call.control(), ctx());
    assert.deepEqual(outcome, {
      kind: 'redirect', url: 'https://app.test/after', method: 'GET',
      params: {
        DialCallStatus: 'completed', DialCallSid: 'CA0001', DialCallDuration: '42', DialBridged: 'true', RecordingUrl: 'https://pb.test/Recordings/RE1',
        DialSipCallId: 'abc@pbx', DialSipResponseCode: '200', 'DialSipHeader_X-Agent': '7', 'DialSipHeader_x-queue': 'sales',
      },
    });
    assert.deepEqual(call.callbacks, []);
    assert.equal(call.notes.find((n) => n.type === 'dial.result')?.detail.status, 'completed');
  });

  it('busy: no duration, no recording; the SIP code of the last leg', async () => {
    const call = new TransferCall();
    call.onDial = async () => dialResult({ status: 'busy', callSid: 'CA0002', sipCallId: 'x@y', sipResponseCode: 486 });
    const outcome = await executeVerb(dialOf('<Dial action="https://app.test/busy">+15550100</Dial>'), call.control(), ctx());
    assert.deepEqual(outcome, {
      kind: 'redirect', url: 'https://app.test/busy', method: 'POST',
      params: { DialCallStatus: 'busy', DialCallSid: 'CA0002', DialBridged: 'false', DialSipCallId: 'x@y', DialSipResponseCode: '486' },
    });
  });

  it('no-answer without an action: the document goes on with the next verb', async () => {
    const call = new TransferCall();
    call.onDial = async () => dialResult({ status: 'no-answer', callSid: 'CA0003', sipResponseCode: 487 });
    assert.deepEqual(await executeVerb(dialOf('<Dial timeout="5">+15550100</Dial>'), call.control(), ctx()), { kind: 'next' });
    assert.deepEqual(call.callbacks, []);
  });

  it('client legs: no DialSip* parameters (Twilio sends them for SIP and number legs)', async () => {
    const call = new TransferCall();
    call.onDial = async () => dialResult({ status: 'completed', callSid: 'CA0004', durationSeconds: 3, bridged: true, sipCallId: 'c@d', sipResponseCode: 200, sipHeaders: { 'X-A': '1' } });
    const outcome = await executeVerb(dialOf('<Dial action="/a"><Client>alice</Client><Client>bob</Client></Dial>'), call.control(), ctx());
    assert.deepEqual(outcome.kind === 'redirect' && outcome.params, { DialCallStatus: 'completed', DialCallSid: 'CA0004', DialCallDuration: '3', DialBridged: 'true' });
  });

  it('the caller hangs up during the dial: the action is still requested (in the background) and the call ends', async () => {
    const call = new TransferCall();
    call.onDial = async () => {
      call.ended = true;
      return dialResult({ status: 'completed', callSid: 'CA0005', durationSeconds: 17, bridged: true, sipCallId: 's@h', sipResponseCode: 200 });
    };
    const outcome = await executeVerb(dialOf('<Dial action="done" method="GET">+15550100</Dial>'), call.control(), ctx());
    assert.deepEqual(outcome, { kind: 'hangup' });
    assert.deepEqual(call.callbacks, [{
      url: 'https://app.test/voice/done', method: 'GET',
      params: { DialCallStatus: 'completed', DialCallSid: 'CA0005', DialCallDuration: '17', DialBridged: 'true', DialSipCallId: 's@h', DialSipResponseCode: '200' },
    }]);
  });

  it('the caller hangs up before anyone answers, without an action: hang up, nothing sent', async () => {
    const call = new TransferCall();
    call.onDial = async () => {
      call.ended = true;
      return dialResult({ status: 'canceled' });
    };
    assert.deepEqual(await executeVerb(dialOf('<Dial>+15550100</Dial>'), call.control(), ctx()), { kind: 'hangup' });
    assert.deepEqual(call.callbacks, []);
  });

  it('a coded engine failure is recorded and reported as failed; without an action the document goes on', async () => {
    const call = new TransferCall();
    call.onDial = () => Promise.reject(codedError(13224, 'no carrier routes +999'));
    const outcome = await executeVerb(dialOf('<Dial action="/after">+999</Dial>'), call.control(), ctx());
    assert.deepEqual(outcome, { kind: 'redirect', url: 'https://app.test/after', method: 'POST', params: { DialCallStatus: 'failed', DialBridged: 'false' } });
    assert.deepEqual(call.notes.find((n) => n.type === 'error')?.detail, { code: 13224, message: '<Dial>: no carrier routes +999' });
    assert.deepEqual(await executeVerb(dialOf('<Dial>+999</Dial>'), call.control(), ctx()), { kind: 'next' });
  });

  it('an uncoded failure, or any failure once the verb is aborted, propagates', async () => {
    const call = new TransferCall();
    call.onDial = () => Promise.reject(new Error('bug'));
    await assert.rejects(executeVerb(dialOf('<Dial action="/a">1</Dial>'), call.control(), ctx()), /bug/);
    const abort = new AbortController();
    const reason = Object.assign(new Error('redirected'), { name: 'AbortError' });
    call.onDial = () => {
      abort.abort(reason);
      return Promise.reject(Object.assign(new Error('aborted'), { code: 13201 }));
    };
    await assert.rejects(executeVerb(dialOf('<Dial action="/a">1</Dial>'), call.control(), ctx(abort.signal)), /aborted/);
    assert.equal(call.callbacks.length, 0);
  });

  it('an inline document: absolute URLs work, a relative one is 11100 and the dial is skipped', async () => {
    const call = new TransferCall();
    call.onDial = async () => dialResult({ status: 'busy' });
    const ok = await executeVerb(dialOf('<Dial action="https://app.test/a"><Number url="https://app.test/w">1</Number></Dial>'), call.control(), ctx(undefined, null));
    assert.equal(ok.kind === 'redirect' && ok.url, 'https://app.test/a');
    const skipped = await executeVerb(dialOf('<Dial><Number url="whisper">1</Number></Dial>'), call.control(), ctx(undefined, null));
    assert.deepEqual(skipped, { kind: 'next' });
    assert.equal(call.dialRequests.length, 1);
    assert.equal(call.notes.find((n) => n.type === 'error')?.detail.code, 11100);
  });
});
