/**
 * authenticateCarrier: a carrier without a listed source address proves itself with its inbound
 * digest credentials. Real INVITEs from the parser and the real DigestServer.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { authenticateCarrier, type CarrierInboundSecrets } from '../../src/calls/carrier-auth.js';
import { authorizationFor, digestHa1, DigestServer, parseChallenge, pickChallenge } from '../../src/sip/digest.js';
import type { SipAddress } from '../../src/sip/message.js';
import { inviteRequest, RecordingInvite } from '../helpers/recording-invite.js';

const REALM = 'patchbay';

function carrier(sid: string, username: string, password: string, realm = REALM): CarrierInboundSecrets {
  return { sid, accountSid: 'AC1', srtp: 'optional', inboundUsername: username, realm, ha1Md5: digestHa1('MD5', username, realm, password), ha1Sha256: digestHa1('SHA-256', username, realm, password) };
}

const trunk = carrier('TK1', 'trunk-a', 'trunk-secret');
const oldRealm = carrier('TK2', 'trunk-b', 'b-secret', 'another-realm');
const byName = new Map([trunk, oldRealm].map((c) => [c.inboundUsername, c]));
const source: SipAddress = { transport: 'udp', host: '203.0.113.9', port: 5060 };

function setUp(anyDigestCarrier = true) {
  const failures: SipAddress[] = [];
  const digest = new DigestServer({ realm: REALM });
  const deps = {
    findByInboundUsername: async (u: string) => byName.get(u) ?? null,
    anyDigestCarrier: async () => anyDigestCarrier,
    digest,
    onAuthFailure: (s: SipAddress) => failures.push(s),
  };
  const attempt = (proxyAuthorization?: string): RecordingInvite => {
    const inv = new RecordingInvite(inviteRequest('"+15557654321" <sip:+15557654321@203.0.113.9>', proxyAuthorization));
    Object.assign(inv, { source });
    return inv;
  };
  return { deps, digest, failures, attempt };
}

describe('authenticateCarrier', () => {
  it('challenges with 407 when a digest carrier exists, and admits the carrier with the right password', async () => {
    const { deps, attempt } = setUp();
    const first = attempt();
    assert.equal(await authenticateCarrier(first, deps), 'answered');
    assert.deepEqual(first.responses.map((r) => r.status), [407]);
    assert.deepEqual(first.challenges().map((v) => parseChallenge(v)?.algorithm), ['SHA-256', 'MD5']);

    const c = pickChallenge(first.challenges())!;
    const second = attempt(authorizationFor(c, { username: 'trunk-a', password: 'trunk-secret' }, 'INVITE', 'sip:+15550001111@127.0.0.1', 1));
    assert.deepEqual(await authenticateCarrier(second, deps), { carrierSid: 'TK1', accountSid: 'AC1', srtp: 'optional' });
    assert.deepEqual(second.responses, []);
  });

  it('answers 403 to a wrong password or an unknown username, and reports the source', async () => {
    const { deps, digest, failures, attempt } = setUp();
    const c = parseChallenge(digest.challenges()[0]!)!;
    for (const creds of [{ username: 'trunk-a', password: 'guess' }, { username: 'nobody', password: 'trunk-secret' }]) {
      const inv = attempt(authorizationFor(c, creds, 'INVITE', 'sip:x@127.0.0.1', 1));
      assert.equal(await authenticateCarrier(inv, deps), 'answered');
      assert.deepEqual(inv.responses.map((r) => r.status), [403], creds.username);
    }
    assert.deepEqual(failures, [source, source]);
  });

  it('never matches credentials stored for another realm', async () => {
    const { deps, digest, attempt } = setUp();
    const c = parseChallenge(digest.challenges()[0]!)!;
    const inv = attempt(authorizationFor(c, { username: 'trunk-b', password: 'b-secret' }, 'INVITE', 'sip:x@127.0.0.1', 1));
    assert.equal(await authenticateCarrier(inv, deps), 'answered');
    assert.deepEqual(inv.responses.map((r) => r.status), [403]);
  });

  it('refuses an algorithm that was not offered (no downgrade to MD5 when only SHA-256 is)', async () => {
    const { deps, digest, attempt } = setUp();
    const md5 = parseChallenge(digest.challenges()[1]!)!;
    assert.equal(md5.algorithm, 'MD5');
    const inv = attempt(authorizationFor(md5, { username: 'trunk-a', password: 'trunk-secret' }, 'INVITE', 'sip:x@127.0.0.1', 1));
    assert.equal(await authenticateCarrier(inv, { ...deps, algorithms: ['SHA-256'] }), 'answered');
    assert.deepEqual(inv.responses.map((r) => r.status), [403]);
  });

  it('challenges nobody when no carrier authenticates by digest', async () => {
    const { deps, attempt } = setUp(false);
    const inv = attempt();
    assert.equal(await authenticateCarrier(inv, deps), 'not-challenged');
    assert.deepEqual(inv.responses, []);
  });
});
