import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { RegistrationBinding, RegistrationDirectory } from '../../src/calls/registrar-types.js';
import { digestHa1 } from '../../src/sip/digest.js';
import { startApiTestServer, type ApiTestServer } from './api-test-server.js';

describe('patchbay users', () => {
  const bindings: RegistrationBinding[] = [];
  const directory: RegistrationDirectory = {
    bindings: (accountSid, userSid) => bindings.filter((b) => b.accountSid === accountSid && (userSid === undefined || b.userSid === userSid)),
    bindingsOf: (username) => bindings.filter((b) => b.username === username),
  };
  let s: ApiTestServer;
  before(async () => {
    s = await startApiTestServer({ registrations: directory });
  });
  after(async () => s?.close());

  it('adds users (password kept only as HA1s), lists them as a table and as JSON', async () => {
    const r = await s.cli(['users', 'add', 'alice', '--password', 'alice-password', '--voice-url', 'https://app.example/alice', '--friendly-name', 'Alice desk']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^sid: +US[0-9a-f]{32}$/m);
    assert.match(r.out, /^username: +alice$/m);
    assert.match(r.out, /^realm: +patchbay$/m);
    assert.ok(!r.out.includes('alice-password'));
    const stored = await s.store.findSipUser('alice');
    assert.equal(stored?.ha1Md5, digestHa1('MD5', 'alice', 'patchbay', 'alice-password'));

    const app = await s.store.createApplication({
      sid: `AP${'1'.repeat(32)}`, accountSid: s.account.sid, friendlyName: 'ivr', voiceUrl: 'https://app.example/ivr', voiceMethod: 'POST',
      voiceFallbackUrl: null, voiceFallbackMethod: 'POST', statusCallback: null, statusCallbackMethod: 'POST',
    });
    const bob = await s.cli(['users', 'add', 'bob', '--password', 'bob-password', '--application', app.sid, '--json']);
    assert.equal(bob.code, 0, bob.err);
    assert.equal((JSON.parse(bob.out) as { voiceApplicationSid: string }).voiceApplicationSid, app.sid);

    const list = await s.cli(['users', 'list']);
    const [header, ...rows] = list.out.trimEnd().split('\n');
    assert.match(header!, /^SID +USERNAME +FRIENDLY NAME +VOICE URL +METHOD$/);
    assert.equal(rows.length, 2);
    assert.match(rows[0]!, new RegExp(`^US[0-9a-f]{32} +bob +bob +application ${app.sid} +POST$`));
    assert.match(rows[1]!, /^US[0-9a-f]{32} +alice +Alice desk +https:\/\/app\.example\/alice +POST$/);
  });

  it('shows and updates by username; a new password changes the HA1s; --application none clears', async () => {
    const shown = await s.cli(['users', 'show', 'bob']);
    assert.equal(shown.code, 0, shown.err);
    assert.match(shown.out, /^application: +AP1{32}$/m);
    const updated = await s.cli(['users', 'update', 'bob', '--password', 'new-bob-password', '--application', 'none', '--voice-url', 'https://app.example/bob']);
    assert.equal(updated.code, 0, updated.err);
    assert.match(updated.out, /^application: +-$/m);
    assert.equal((await s.store.findSipUser('bob'))?.ha1Sha256, digestHa1('SHA-256', 'bob', 'patchbay', 'new-bob-password'));
    const renamed = await s.cli(['users', 'update', 'bob', '--username', 'robert', '--password', 'new-bob-password', '--json']);
    assert.equal(renamed.code, 0, renamed.err);
    assert.equal(JSON.parse(renamed.out).username, 'robert');
    const secured = await s.cli(['users', 'update', 'robert', '--srtp', 'required']);
    assert.equal(secured.code, 0, secured.err);
    assert.match(secured.out, /^srtp: +required$/m);
    assert.equal((await s.store.findSipUser('robert'))?.srtp, 'required');
    const bad = await s.cli(['users', 'update', 'robert', '--srtp', 'sometimes']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /Invalid srtp/);
  });

  it("reports usage errors with exit 2 and the API's refusals (taken username 20409, short password) with exit 1", async () => {
    const noPassword = await s.cli(['users', 'add', 'carol']);
    assert.equal(noPassword.code, 2);
    assert.match(noPassword.err, /--password is required/);
    const taken = await s.cli(['users', 'add', 'alice', '--password', 'other-password']);
    assert.equal(taken.code, 1);
    assert.match(taken.err, /^patchbay: error 20409: username alice is already in use on this server \(HTTP 409\)\n$/);
    const short = await s.cli(['users', 'add', 'carol', '--password', 'short']);
    assert.equal(short.code, 1);
    assert.match(short.err, /error 20001: Invalid password/);
    const rename = await s.cli(['users', 'update', 'alice', '--username', 'alicia']);
    assert.equal(rename.code, 1);
    assert.match(rename.err, /needs password/);
  });

  it("lists registrations: every device of the account, or one user's", async () => {
    const alice = (await s.store.findSipUser('alice'))!;
    const robert = (await s.store.findSipUser('robert'))!;
    const base = { accountSid: s.account.sid, registeredAt: new Date(), callId: 'x', cseq: 1, instanceId: null };
    bindings.push(
      { ...base, userSid: alice.sid, username: 'alice', contact: 'sip:alice@192.0.2.5:5062', source: { transport: 'udp', host: '192.0.2.5', port: 5062 }, userAgent: 'baresip', expiresAt: new Date(Date.now() + 3_600_000) },
      { ...base, userSid: robert.sid, username: 'robert', contact: 'sip:robert@192.0.2.6', source: { transport: 'tcp', host: '192.0.2.6', port: 5060 }, userAgent: null, expiresAt: new Date(Date.now() + 3_600_000) },
    );
    const all = await s.cli(['users', 'registrations']);
    assert.equal(all.code, 0, all.err);
    const [header, ...rows] = all.out.trimEnd().split('\n');
    assert.match(header!, /^USERNAME +CONTACT +SOURCE +USER AGENT +EXPIRES IN$/);
    assert.equal(rows.length, 2);
    assert.match(rows[0]!, /^alice +sip:alice@192\.0\.2\.5:5062 +udp:192\.0\.2\.5:5062 +baresip +\d+ s$/);
    const one = await s.cli(['users', 'registrations', 'robert', '--json']);
    assert.equal(one.code, 0, one.err);
    assert.deepEqual((JSON.parse(one.out) as { registrations: { username: string; source: string }[] }).registrations.map((r) => [r.username, r.source]), [['robert', 'tcp:192.0.2.6:5060']]);
    bindings.length = 0;
    assert.equal((await s.cli(['users', 'registrations', 'alice'])).out, 'No registrations.\n');
  });

  it('removes by username', async () => {
    const r = await s.cli(['users', 'remove', 'alice']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^Removed alice \(US[0-9a-f]{32}\)\.\n$/);
    assert.equal(await s.store.findSipUser('alice'), null);
    const again = await s.cli(['users', 'remove', 'alice']);
    assert.equal(again.code, 1);
    assert.match(again.err, /no user alice on this account/);
  });
});
