import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { digestHa1 } from '../../src/sip/digest.js';
import { startConfigTestServer, TEST_SIP_REALM, type ConfigTestServer } from './config-test-server.js';

describe('SIP users API (/v1/users, native only)', () => {
  let s: ConfigTestServer;
  before(async () => void (s = await startConfigTestServer()));
  after(() => s?.close());

  const stored = (sid: string) => s.store.getSipUser(s.alice.sid, sid);

  it('create 201 stores the digest HA1s for the server realm and never answers with the password or an HA1', async () => {
    const created = await s.json('POST', '/v1/users', { username: 'alice.desk', password: 'correct horse', voiceUrl: 'https://app.example.com/alice' });
    assert.equal(created.statusCode, 201, created.body);
    const u = created.json();
    assert.match(u.sid, /^US[0-9a-f]{32}$/);
    assert.deepEqual({ ...u, sid: 'X', dateCreated: 'D', dateUpdated: 'D' }, {
      sid: 'X', accountSid: s.alice.sid, username: 'alice.desk', friendlyName: 'alice.desk', realm: TEST_SIP_REALM,
      voiceUrl: 'https://app.example.com/alice', voiceMethod: 'POST', voiceFallbackUrl: null, voiceFallbackMethod: 'POST',
      statusCallback: null, statusCallbackMethod: 'POST', voiceApplicationSid: null, srtp: 'optional', dateCreated: 'D', dateUpdated: 'D',
    });
    const rec = await stored(u.sid);
    assert.equal(rec?.ha1Md5, digestHa1('MD5', 'alice.desk', TEST_SIP_REALM, 'correct horse'));
    assert.equal(rec?.ha1Sha256, digestHa1('SHA-256', 'alice.desk', TEST_SIP_REALM, 'correct horse'));
    for (const res of [created, await s.app.inject({ url: `/v1/users/${u.sid}`, headers: s.asAlice }), await s.app.inject({ url: '/v1/users', headers: s.asAlice })]) {
      assert.ok(!res.body.includes('correct horse'), 'no password');
      assert.ok(!res.body.includes(rec!.ha1Md5) && !res.body.includes(rec!.ha1Sha256), 'no HA1');
      assert.ok(!/ha1|password/i.test(res.body));
    }
  });

  it('update: a new password recomputes both HA1s; a rename needs the password; other fields leave the HA1s alone', async () => {
    const u = (await s.json('POST', '/v1/users', { username: 'bob.phone', password: 'first-password' })).json();
    const before1 = await stored(u.sid);

    const renamed = await s.json('PATCH', `/v1/users/${u.sid}`, { friendlyName: 'Bob', voiceMethod: 'GET' });
    assert.equal(renamed.statusCode, 200, renamed.body);
    assert.deepEqual([renamed.json().friendlyName, renamed.json().voiceMethod], ['Bob', 'GET']);
    assert.equal((await stored(u.sid))?.ha1Md5, before1?.ha1Md5);

    const repassed = await s.json('PATCH', `/v1/users/${u.sid}`, { password: 'second-password' });
    assert.equal(repassed.statusCode, 200, repassed.body);
    const after2 = await stored(u.sid);
    assert.equal(after2?.ha1Md5, digestHa1('MD5', 'bob.phone', TEST_SIP_REALM, 'second-password'));
    assert.equal(after2?.ha1Sha256, digestHa1('SHA-256', 'bob.phone', TEST_SIP_REALM, 'second-password'));

    const noPassword = await s.json('PATCH', `/v1/users/${u.sid}`, { username: 'robert' });
    assert.equal(noPassword.statusCode, 400);
    assert.match(noPassword.json().message, /needs password/);
    assert.equal((await stored(u.sid))?.username, 'bob.phone');
    // Same username again is not a rename.
    assert.equal((await s.json('PATCH', `/v1/users/${u.sid}`, { username: 'bob.phone' })).statusCode, 200);

    const moved = await s.json('PATCH', `/v1/users/${u.sid}`, { username: 'robert', password: 'third-password' });
    assert.equal(moved.statusCode, 200, moved.body);
    assert.equal(moved.json().username, 'robert');
    assert.equal((await stored(u.sid))?.ha1Md5, digestHa1('MD5', 'robert', TEST_SIP_REALM, 'third-password'));
  });

  it('a username taken anywhere on the server is 409 (20409) in the native error shape, on create and rename', async () => {
    assert.equal((await s.json('POST', '/v1/users', { username: 'shared', password: 'password-1' }, s.asBob)).statusCode, 201);
    const dup = await s.json('POST', '/v1/users', { username: 'shared', password: 'password-2' });
    assert.equal(dup.statusCode, 409);
    assert.deepEqual(dup.json(), { code: 20409, message: 'username shared is already in use on this server', moreInfo: 'https://www.twilio.com/docs/errors/20409', status: 409 });
    const mine = (await s.json('POST', '/v1/users', { username: 'unique-one', password: 'password-3' })).json();
    const clash = await s.json('PATCH', `/v1/users/${mine.sid}`, { username: 'shared', password: 'password-3' });
    assert.equal(clash.statusCode, 409);
    assert.equal((await stored(mine.sid))?.username, 'unique-one');
  });

  it('bad input is 400 naming the field', async () => {
    const bobApp = (await s.json('POST', '/v1/applications', { friendlyName: 'bob app' }, s.asBob)).json().sid as string;
    const cases: [Record<string, unknown>, number, RegExp][] = [
      [{ password: 'password-ok' }, 20001, /username/],
      [{ username: 'nopass' }, 20001, /password/],
      [{ username: 'short', password: '1234567' }, 20001, /password: must be 8-128/],
      [{ username: 'x'.repeat(65), password: 'password-ok' }, 20001, /username/],
      [{ username: 'a@b', password: 'password-ok' }, 20001, /username/],
      [{ username: 'ctl', password: 'pass\nword-ok' }, 20001, /control/],
      [{ username: 'url', password: 'password-ok', voiceUrl: 'nope' }, 21502, /voiceUrl/],
      [{ username: 'app', password: 'password-ok', voiceApplicationSid: bobApp }, 21218, /voiceApplicationSid/],
      [{ username: 'x1', password: 'password-ok', ha1Md5: '0'.repeat(32) }, 20001, /Unknown field "ha1Md5"/],
    ];
    for (const [body, code, message] of cases) {
      const res = await s.json('POST', '/v1/users', body);
      assert.equal(res.statusCode, 400, `${JSON.stringify(body)}: ${res.body}`);
      assert.equal(res.json().code, code, JSON.stringify(body));
      assert.match(res.json().message, message);
    }
  });

  it('voiceApplicationSid points a user at an application of its account; deleting the application clears it', async () => {
    const app = (await s.json('POST', '/v1/applications', { voiceUrl: 'https://app.example.com/ivr' })).json();
    const u = await s.json('POST', '/v1/users', { username: 'with-app', password: 'password-ok', voiceApplicationSid: app.sid });
    assert.equal(u.statusCode, 201, u.body);
    assert.equal(u.json().voiceApplicationSid, app.sid);
    assert.equal((await s.app.inject({ method: 'DELETE', url: `/v1/applications/${app.sid}`, headers: s.asAlice })).statusCode, 204);
    assert.equal((await s.app.inject({ url: `/v1/users/${u.json().sid}`, headers: s.asAlice })).json().voiceApplicationSid, null);
  });

  it("another account's user is a 404; lists are per account and filter by exact username", async () => {
    const bobs = (await s.json('POST', '/v1/users', { username: 'bobs-own', password: 'password-ok' }, s.asBob)).json();
    assert.equal((await s.app.inject({ url: `/v1/users/${bobs.sid}`, headers: s.asAlice })).statusCode, 404);
    assert.equal((await s.json('PATCH', `/v1/users/${bobs.sid}`, { password: 'takeover-pw' })).statusCode, 404);
    assert.equal((await s.app.inject({ method: 'DELETE', url: `/v1/users/${bobs.sid}`, headers: s.asAlice })).statusCode, 404);
    const mineFiltered = (await s.app.inject({ url: '/v1/users?username=bobs-own', headers: s.asAlice })).json();
    assert.deepEqual(mineFiltered.users, []);
    const bobsFiltered = (await s.app.inject({ url: '/v1/users?username=bobs-own', headers: s.asBob })).json();
    assert.deepEqual(bobsFiltered.users.map((u: { sid: string }) => u.sid), [bobs.sid]);
    assert.equal((await s.app.inject({ method: 'DELETE', url: `/v1/users/${bobs.sid}`, headers: s.asBob })).statusCode, 204);
    assert.equal(await s.store.findSipUser('bobs-own'), null);
  });

  it('has no Twilio-dialect routes', async () => {
    assert.equal((await s.app.inject({ url: `${s.twilioBase(s.alice)}/Users.json`, headers: s.asAlice })).statusCode, 404);
  });

  it('srtp: the policy is set on create, changed by PATCH, and anything but optional/required/off is 400', async () => {
    const created = await s.json('POST', '/v1/users', { username: 'carol.secure', password: 'long-enough', srtp: 'required' });
    assert.equal(created.statusCode, 201, created.body);
    assert.equal(created.json().srtp, 'required');
    assert.equal((await stored(created.json().sid))?.srtp, 'required');
    const patched = await s.json('PATCH', `/v1/users/${created.json().sid}`, { srtp: 'off' });
    assert.equal(patched.json().srtp, 'off');
    const bad = await s.json('POST', '/v1/users', { username: 'dave.secure', password: 'long-enough', srtp: 'always' });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().message, /Invalid srtp: "always" must be optional, required or off/);
  });
});
