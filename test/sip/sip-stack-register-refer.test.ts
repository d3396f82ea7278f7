import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { SipStack, type Dialog, type IncomingInvite, type Responder } from '../../src/sip/sip-stack.js';
import { createRequest, type SipAddress, type SipRequest } from '../../src/sip/message.js';
import { parseReferTo, parseSipfragStatus, referNotifyHeaders, sipfrag, SIPFRAG_CONTENT_TYPE } from '../../src/sip/refer.js';
import { validateRequest } from '../../src/sip/request-validator.js';
import { MINIMAL_SDP, withStackPair } from '../helpers/stack-pair.js';

const SDP = MINIMAL_SDP;

const pair = (fn: (a: SipStack, b: SipStack) => Promise<void>): Promise<void> => withStackPair(fn, ['a', 'b']);

/** a calls b; returns both dialogs once the ACK has arrived. */
async function connect(a: SipStack, b: SipStack): Promise<{ uac: Dialog; uas: Dialog }> {
  const incoming = new Promise<IncomingInvite>((r) => b.once('invite', r));
  const out = a.invite({ uri: `sip:bob@127.0.0.1:${b.udpPort}`, from: 'sip:alice@127.0.0.1', to: 'sip:bob@127.0.0.1', body: SDP, contentType: 'application/sdp' });
  const uas = (await incoming).respond(200, { body: SDP, contentType: 'application/sdp' })!;
  const acked = once(uas, 'ack');
  const outcome = await out.done;
  await acked;
  assert.equal(outcome.kind, 'answered');
  return { uac: (outcome as { dialog: Dialog }).dialog, uas };
}

test('REGISTER: delivered to the listener with its source, answered by it; Allow lists REGISTER only while someone listens', async () => {
  await pair(async (a, b) => {
    const dest = { transport: 'udp' as const, host: '127.0.0.1', port: b.udpPort };
    assert.ok(!b.allowedMethods.includes('REGISTER'));
    const seen: { expires: string | undefined; port: number }[] = [];
    const listener = (req: SipRequest, source: SipAddress, respond: Responder): void => {
      seen.push({ expires: req.headers.get('expires'), port: source.port });
      respond(200, { headers: [{ name: 'Contact', value: `${req.headers.get('contact')};expires=120` }] });
      respond(500); // a second answer is ignored
    };
    b.on('register', listener);
    assert.ok(b.allowedMethods.includes('REGISTER'));
    const req = a.buildRequest('REGISTER', { uri: 'sip:127.0.0.1', from: 'sip:alice@127.0.0.1', to: 'sip:alice@127.0.0.1', headers: [{ name: 'Expires', value: '300' }] });
    const res = await a.sendRequest(req, dest).final;
    assert.equal(res?.status, 200);
    assert.match(res?.headers.get('contact') ?? '', /;expires=120$/);
    assert.deepEqual(seen, [{ expires: '300', port: a.udpPort }]);

    const options = await a.sendRequest(a.buildRequest('OPTIONS', { uri: 'sip:127.0.0.1', from: 'sip:alice@127.0.0.1', to: 'sip:b@127.0.0.1' }), dest).final;
    assert.match(options?.headers.get('allow') ?? '', /REGISTER/);

    b.off('register', listener);
    const refused = await a.sendRequest(a.buildRequest('REGISTER', { uri: 'sip:127.0.0.1', from: 'sip:alice@127.0.0.1', to: 'sip:alice@127.0.0.1' }), dest).final;
    assert.equal(refused?.status, 405);
    assert.doesNotMatch(refused?.headers.get('allow') ?? '', /REGISTER/);
    assert.equal(seen.length, 1);
  });
});

test('buildRequest: tag, Call-ID, CSeq, Contact defaults and overrides', () => {
  const s = new SipStack({ host: '127.0.0.1', port: 0, userAgent: 'ua' });
  const r = s.buildRequest('REGISTER', { uri: 'sip:reg', from: 'sip:u@reg', to: '"U" <sip:u@reg>', callId: 'c1', cseq: 7, fromTag: 't1', headers: [{ name: 'Expires', value: '60' }] });
  assert.equal(r.method, 'REGISTER');
  assert.equal(r.headers.get('from'), '<sip:u@reg>;tag=t1');
  assert.equal(r.headers.get('to'), '"U" <sip:u@reg>');
  assert.equal(r.headers.get('call-id'), 'c1');
  assert.equal(r.headers.get('cseq'), '7 REGISTER');
  assert.match(r.headers.get('contact') ?? '', /^<sip:patchbay@127\.0\.0\.1:\d+>$/);
  assert.equal(r.headers.get('user-agent'), 'ua');
  assert.equal(r.headers.get('expires'), '60');
  assert.equal(r.headers.has('allow'), false);
  const bare = s.buildRequest('MESSAGE', { uri: 'sip:x', from: 'sip:a@x', to: 'sip:b@x', contact: null, body: Buffer.from('hi'), contentType: 'text/plain' });
  assert.equal(bare.headers.has('contact'), false);
  assert.equal(bare.headers.get('content-type'), 'text/plain');
  assert.notEqual(s.buildRequest('OPTIONS', { uri: 'sip:x', from: 'sip:a@x', to: 'sip:b@x' }).headers.get('call-id'), bare.headers.get('call-id'));
});

test('REFER and NOTIFY in a dialog reach the listeners (202, sipfrag progress, 200)', async () => {
  await pair(async (a, b) => {
    const { uac, uas } = await connect(a, b);
    // The callee (b) transfers the caller: REFER from b's dialog to a's.
    const referred = new Promise<string>((resolve) =>
      uac.once('refer', (req, respond) => {
        respond(202);
        resolve(req.headers.get('refer-to') ?? '');
      }),
    );
    const referRes = await uas.sendRequest('REFER', { headers: [{ name: 'Refer-To', value: '<sip:agent@127.0.0.1?X-Foo=bar>' }] });
    assert.equal(referRes?.status, 202);
    assert.deepEqual(parseReferTo(await referred), { uri: 'sip:agent@127.0.0.1', headers: [['X-Foo', 'bar']] });

    const progress: { status: number | null; state: string | undefined; event: string | undefined }[] = [];
    uas.on('notify', (req, respond) => {
      progress.push({ status: parseSipfragStatus(req.body), state: req.headers.get('subscription-state'), event: req.headers.get('event') });
      respond(200);
    });
    for (const [state, status, reason] of [['active', 100, 'Trying'], ['terminated', 200, 'OK']] as const) {
      const r = await uac.sendRequest('NOTIFY', { headers: referNotifyHeaders(state), body: sipfrag(status, reason), contentType: SIPFRAG_CONTENT_TYPE });
      assert.equal(r?.status, 200);
    }
    assert.deepEqual(progress, [
      { status: 100, state: 'active;expires=60', event: 'refer' },
      { status: 200, state: 'terminated;reason=noresource', event: 'refer' },
    ]);
    assert.equal(uac.state, 'confirmed');
    assert.equal(uas.state, 'confirmed');
  });
});

test('without listeners: REFER → 405 with an Allow that omits REFER; NOTIFY → 481 and the dialog survives', async () => {
  await pair(async (a, b) => {
    const { uac, uas } = await connect(a, b);
    const refer = await uas.sendRequest('REFER', { headers: [{ name: 'Refer-To', value: '<sip:x@127.0.0.1>' }] });
    assert.equal(refer?.status, 405);
    const allow = refer?.headers.get('allow') ?? '';
    assert.match(allow, /INVITE/);
    assert.doesNotMatch(allow, /REFER/);
    const notify = await uac.sendRequest('NOTIFY', { headers: referNotifyHeaders('terminated'), body: sipfrag(200, 'OK'), contentType: SIPFRAG_CONTENT_TYPE });
    assert.equal(notify?.status, 481);
    // RFC 5057: a 481 to NOTIFY ends the subscription usage only, not the call's dialog.
    assert.equal(uac.state, 'confirmed');
    assert.equal((await uac.sendRequest('INFO'))?.status, 200);
    assert.equal(uas.state, 'confirmed');
  });
});

test('validator: NOTIFY with a message/sipfrag body and REFER without a body pass the default stack options', () => {
  const base = (method: string) => [
    { name: 'Via', value: 'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKx' },
    { name: 'From', value: '<sip:a@h>;tag=1' },
    { name: 'To', value: '<sip:b@h>;tag=2' },
    { name: 'Call-ID', value: 'c' },
    { name: 'CSeq', value: `2 ${method}` },
  ];
  const opts = { supportedExtensions: [], acceptedContentTypes: { INVITE: ['application/sdp'] } };
  const notify = createRequest('NOTIFY', 'sip:a@h', [...base('NOTIFY'), { name: 'Event', value: 'refer' }, { name: 'Content-Type', value: SIPFRAG_CONTENT_TYPE }], sipfrag(180, 'Ringing'));
  assert.equal(validateRequest(notify, opts), null);
  const refer = createRequest('REFER', 'sip:a@h', [...base('REFER'), { name: 'Refer-To', value: '<sip:c@h>' }]);
  assert.equal(validateRequest(refer, opts), null);
});
