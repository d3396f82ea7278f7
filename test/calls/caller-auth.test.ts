/**
 * authenticateCaller: INVITEs whose From names a SIP user must carry Proxy-Authorization.
 * Real INVITEs from the parser, the real DigestServer, an in-memory user lookup.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { authenticateCaller } from '../../src/calls/caller-auth.js';
import { authorizationFor, digestHa1, DigestServer, parseChallenge, pickChallenge } from '../../src/sip/digest.js';
import type { StoredSipUserRecord } from '../../src/store/store-types.js';
import { inviteRequest as invite, RecordingInvite } from '../helpers/recording-invite.js';

const REALM = 'patchbay';

function userRecord(username: string, password: string, sid: string): StoredSipUserRecord {
  return {
    sid,
    accountSid: 'AC1',
    username,
    friendlyName: username,
    realm: REALM,
    ha1Md5: digestHa1('MD5', username, REALM, password),
    ha1Sha256: digestHa1('SHA-256', username, REALM, password),
    voiceApplicationSid: null,
    voiceUrl: null,
    voiceMethod: 'POST',
    voiceFallbackUrl: null,
    voiceFallbackMethod: 'POST',
    statusCallback: null,
    statusCallbackMethod: 'POST',
    dateCreated: '2025-01-01T00:00:00Z',
    dateUpdated: '2025-01-01T00:00:00Z',
  };
}

const alice = userRecord('alice', 'secret-a', 'US1');
const bob = userRecord('bob', 'secret-b', 'US2');
const users = { findSipUser: async (u: string) => (u === 'alice' ? alice : u === 'bob' ? bob : null) };

describe('authenticateCaller', () => {
  let now = 1_700_000_000_000;
  const digest = new DigestServer({ realm: REALM, now: () => now, nonceLifetimeMs: 60_000 });
  const deps = { users, digest };

  /** A challenge as the phone would have received it in a 407. */
  async function challenge(): Promise<ReturnType<typeof pickChallenge>> {
    const inv = new RecordingInvite(invite('<sip:alice@127.0.0.1>'));
    assert.equal(await authenticateCaller(inv, deps), null);
    return pickChallenge(inv.challenges());
  }

  it("answers 407 with SHA-256 and MD5 Proxy-Authenticate to a user's INVITE without credentials", async () => {
    const inv = new RecordingInvite(invite('"Alice" <sip:alice@127.0.0.1>'));
    assert.equal(await authenticateCaller(inv, deps), null);
    assert.deepEqual(inv.responses.map((r) => r.status), [407]);
    assert.deepEqual(inv.challenges().map((v) => parseChallenge(v)?.algorithm), ['SHA-256', 'MD5']);
  });

  it('returns the user for valid credentials and answers nothing', async () => {
    const c = (await challenge())!;
    const inv = new RecordingInvite(invite('<sip:alice@127.0.0.1>', authorizationFor(c, { username: 'alice', password: 'secret-a' }, 'INVITE', 'sip:+15550001111@127.0.0.1', 1)));
    assert.deepEqual(await authenticateCaller(inv, deps), alice);
    assert.deepEqual(inv.responses, []);
  });

  it('accepts MD5 credentials too', async () => {
    const md5 = parseChallenge(digest.challenges()[1]!)!;
    assert.equal(md5.algorithm, 'MD5');
    const inv = new RecordingInvite(invite('<sip:bob@127.0.0.1>', authorizationFor(md5, { username: 'bob', password: 'secret-b' }, 'INVITE', 'sip:x@127.0.0.1', 1)));
    assert.deepEqual(await authenticateCaller(inv, deps), bob);
  });

  it('answers 403 to a wrong password', async () => {
    const c = (await challenge())!;
    const inv = new RecordingInvite(invite('<sip:alice@127.0.0.1>', authorizationFor(c, { username: 'alice', password: 'nope' }, 'INVITE', 'sip:x@127.0.0.1', 1)));
    assert.equal(await authenticateCaller(inv, deps), null);
    assert.deepEqual(inv.responses.map((r) => r.status), [403]);
  });

  it("answers 403 to one user's valid credentials on an INVITE From another user", async () => {
    const c = (await challenge())!;
    const inv = new RecordingInvite(invite('<sip:alice@127.0.0.1>', authorizationFor(c, { username: 'bob', password: 'secret-b' }, 'INVITE', 'sip:x@127.0.0.1', 1)));
    assert.equal(await authenticateCaller(inv, deps), null);
    assert.deepEqual(inv.responses.map((r) => r.status), [403]);
  });

  it('answers 407 stale=true to the right password over an expired nonce', async () => {
    const c = (await challenge())!;
    now += 61_000;
    const inv = new RecordingInvite(invite('<sip:alice@127.0.0.1>', authorizationFor(c, { username: 'alice', password: 'secret-a' }, 'INVITE', 'sip:x@127.0.0.1', 1)));
    assert.equal(await authenticateCaller(inv, deps), null);
    assert.deepEqual(inv.responses.map((r) => r.status), [407]);
    assert.ok(inv.challenges().length === 2 && inv.challenges().every((v) => parseChallenge(v)?.stale === true));
  });

  it('offers only the configured algorithms in its 407', async () => {
    const inv = new RecordingInvite(invite('<sip:alice@127.0.0.1>'));
    assert.equal(await authenticateCaller(inv, { ...deps, algorithms: ['MD5'] }), null);
    assert.deepEqual(inv.challenges().map((v) => parseChallenge(v)?.algorithm), ['MD5']);
  });

  it("returns 'not-a-user' and answers nothing when the From is no SIP user (or not a sip: URI)", async () => {
    for (const from of ['<sip:+15557654321@carrier.example>', '<sip:mallory@127.0.0.1>', '<tel:+15557654321>', '"Anonymous" <sip:anonymous@anonymous.invalid>']) {
      const inv = new RecordingInvite(invite(from));
      assert.equal(await authenticateCaller(inv, deps), 'not-a-user', from);
      assert.deepEqual(inv.responses, []);
    }
  });
});
