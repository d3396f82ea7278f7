import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { SipStack, type IncomingInvite } from '../../src/sip/sip-stack.js';
import { digestHa1, DigestServer, parseCredentials, type DigestChallenge } from '../../src/sip/digest.js';
import { getTag, parseCSeq } from '../../src/sip/header-values.js';
import { MINIMAL_SDP, withStackPair } from '../helpers/stack-pair.js';

const SDP = MINIMAL_SDP;
const REALM = 'carrier.test';
const lookup = async (u: string) => (u === 'acct' ? { ha1Md5: digestHa1('MD5', u, REALM, 'right'), ha1Sha256: digestHa1('SHA-256', u, REALM, 'right') } : null);

const pair = (fn: (a: SipStack, b: SipStack) => Promise<void>): Promise<void> => withStackPair(fn, ['caller', 'carrier']);

/**
 * A carrier on `b` that challenges every INVITE without valid credentials with `status`. The
 * verdict of each authenticated INVITE is recorded; `onAuthorized` decides what happens then.
 */
function challenger(b: SipStack, status: 401 | 407, onAuthorized: (inv: IncomingInvite) => void, opts: { staleOnce?: boolean } = {}) {
  const server = new DigestServer({ realm: REALM });
  const invites: IncomingInvite[] = [];
  const verdicts: string[] = [];
  let staleSent = false;
  const header = status === 407 ? 'Proxy-Authorization' : 'Authorization';
  b.on('invite', (inv) => {
    invites.push(inv);
    void server.verify('INVITE', inv.request.headers.getAll(header), lookup).then((v) => {
      verdicts.push(v.result);
      const challenge = (stale: boolean) => server.challenges(stale).map((value) => ({ name: status === 407 ? 'Proxy-Authenticate' : 'WWW-Authenticate', value }));
      if (v.result === 'ok' && opts.staleOnce && !staleSent) {
        staleSent = true;
        return inv.respond(status, { headers: challenge(true) });
      }
      if (v.result === 'ok') return onAuthorized(inv);
      inv.respond(status, { headers: challenge(v.result === 'stale') });
    });
  });
  return { invites, verdicts };
}

const call = (a: SipStack, b: SipStack, password: string | null, transport: 'udp' | 'tcp' = 'udp') =>
  a.invite({
    uri: `sip:+15551230000@127.0.0.1:${b.udpPort}${transport === 'tcp' ? ';transport=tcp' : ''}`,
    from: 'sip:+15550001111@127.0.0.1',
    to: 'sip:+15551230000@127.0.0.1',
    body: SDP,
    contentType: 'application/sdp',
    headers: [{ name: 'X-Trace', value: 'keep-me' }],
    ...(password !== null ? { credentials: { username: 'acct', password } } : {}),
  });

for (const status of [407, 401] as const) {
  const header = status === 407 ? 'proxy-authorization' : 'authorization';
  test(`INVITE challenged with ${status} is sent again with ${header}, CSeq 2, same Call-ID/From tag/To, and answered`, async () => {
    await pair(async (a, b) => {
      const carrier = challenger(b, status, (inv) => inv.respond(200, { body: SDP, contentType: 'application/sdp' }));
      const out = call(a, b, 'right');
      const challenges: DigestChallenge[] = [];
      out.on('auth', (c) => challenges.push(c));
      const outcome = await out.done;
      assert.equal(outcome.kind, 'answered');
      assert.equal(carrier.invites.length, 2);
      const [first, second] = carrier.invites.map((i) => i.request);
      assert.equal(first!.headers.get(header), undefined);
      assert.equal(parseCredentials(second!.headers.get(header)!)?.username, 'acct');
      assert.equal(parseCredentials(second!.headers.get(header)!)?.algorithm, 'SHA-256');
      assert.equal(second!.headers.get('cseq'), '2 INVITE');
      assert.equal(second!.headers.get('call-id'), first!.headers.get('call-id'));
      assert.equal(getTag(second!.headers.get('from')!), getTag(first!.headers.get('from')!));
      assert.equal(second!.headers.get('to'), first!.headers.get('to'));
      assert.notEqual(second!.headers.get('via'), first!.headers.get('via')); // a new branch
      assert.equal(second!.headers.get('x-trace'), 'keep-me');
      assert.equal(second!.body.toString(), SDP.toString());
      assert.deepEqual(carrier.verdicts, ['missing', 'ok']);
      assert.equal(challenges.length, 1);
      assert.equal(challenges[0]!.realm, REALM);
      assert.equal(out.callId, first!.headers.get('call-id'));
      assert.equal(out.request.headers.get('cseq'), '2 INVITE');
      // The dialog continues from CSeq 2: the BYE is CSeq 3.
      const dialog = outcome.kind === 'answered' ? outcome.dialog : null;
      assert.equal(dialog?.localSeq, 2);
      const bye = once(carrier.invites[1]!.dialog!, 'bye');
      assert.equal((await dialog!.sendBye())?.status, 200);
      const [byeReq] = await bye;
      assert.equal(parseCSeq(byeReq.headers.get('cseq'))?.seq, 3);
    });
  });
}

test('over TCP (the challenged transaction ends at once): 407 answered on the same connection kind, call answered', async () => {
  await pair(async (a, b) => {
    const carrier = challenger(b, 407, (inv) => inv.respond(200, { body: SDP, contentType: 'application/sdp' }));
    const out = call(a, b, 'right', 'tcp');
    const outcome = await out.done;
    assert.equal(outcome.kind, 'answered');
    assert.equal(carrier.invites.length, 2);
    assert.equal(carrier.invites[1]!.source.transport, 'tcp');
    assert.equal(out.request.headers.get('cseq'), '2 INVITE');
  });
});

test('wrong password: one retry, then rejected with the second 407', async () => {
  await pair(async (a, b) => {
    const carrier = challenger(b, 407, () => assert.fail('must not be authorized'));
    const out = call(a, b, 'wrong');
    const rejected: number[] = [];
    out.on('rejected', (res) => rejected.push(res.status));
    const outcome = await out.done;
    assert.equal(outcome.kind, 'rejected');
    assert.equal(outcome.kind === 'rejected' && outcome.response.status, 407);
    assert.deepEqual(rejected, [407]);
    assert.equal(carrier.invites.length, 2);
    assert.deepEqual(carrier.verdicts, ['missing', 'failed']);
  });
});

test('no credentials: the 401 is the outcome, nothing is re-sent', async () => {
  await pair(async (a, b) => {
    const carrier = challenger(b, 401, () => assert.fail('must not be authorized'));
    const outcome = await call(a, b, null).done;
    assert.equal(outcome.kind === 'rejected' && outcome.response.status, 401);
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(carrier.invites.length, 1);
  });
});

test('a repeated challenge with stale=true is answered again (three INVITEs, CSeq 3)', async () => {
  await pair(async (a, b) => {
    const carrier = challenger(b, 401, (inv) => inv.respond(200, { body: SDP, contentType: 'application/sdp' }), { staleOnce: true });
    const out = call(a, b, 'right');
    const outcome = await out.done;
    assert.equal(outcome.kind, 'answered');
    assert.equal(carrier.invites.length, 3);
    assert.equal(carrier.invites[2]!.request.headers.get('cseq'), '3 INVITE');
    assert.deepEqual(carrier.verdicts, ['missing', 'ok', 'ok']);
  });
});

test('cancel() after a challenge CANCELs the second INVITE (its CSeq and branch) → 487 → cancelled', async () => {
  await pair(async (a, b) => {
    const carrier = challenger(b, 407, (inv) => inv.respond(180));
    const out = call(a, b, 'right');
    await new Promise<void>((r) => out.on('provisional', (res) => res.status === 180 && r()));
    const second = carrier.invites[1]!;
    const cancelSeen = once(second, 'cancel');
    out.cancel();
    const [cancel] = await cancelSeen;
    assert.equal(cancel.headers.get('cseq'), '2 CANCEL');
    assert.equal(cancel.headers.get('via'), second.request.headers.get('via'));
    const outcome = await out.done;
    assert.equal(outcome.kind, 'cancelled');
    assert.equal(outcome.kind === 'cancelled' && outcome.response?.status, 487);
    assert.equal(carrier.invites[0]!.cancelled, false);
  });
});
