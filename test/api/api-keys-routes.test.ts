import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { newSid } from '../../src/ids.js';
import { basic, startConfigTestServer, type ConfigTestServer } from './config-test-server.js';

describe('Keys API and API-key authentication', () => {
  let s: ConfigTestServer;
  before(async () => void (s = await startConfigTestServer()));
  after(() => s?.close());

  const twilioKeys = () => `${s.twilioBase(s.alice)}/Keys.json`;
  const twilioKey = (sid: string) => `${s.twilioBase(s.alice)}/Keys/${sid}.json`;

  it('Twilio dialect: create shows the secret once; fetch/list/update never do; delete 204', async () => {
    const created = await s.postForm(twilioKeys(), { FriendlyName: 'ci' });
    assert.equal(created.statusCode, 201, created.body);
    const k = created.json();
    assert.deepEqual(Object.keys(k).sort(), ['date_created', 'date_updated', 'friendly_name', 'secret', 'sid']);
    assert.match(k.sid, /^SK[0-9a-f]{32}$/);
    assert.equal(k.friendly_name, 'ci');
    assert.ok(k.secret.length >= 32, k.secret);
    assert.match(k.date_created, /\+0000$/);
    // Stored as its SHA-256 only.
    const stored = await s.store.getApiKey(s.alice.sid, k.sid);
    assert.equal(stored!.secretSha256, createHash('sha256').update(k.secret).digest('hex'));

    const { secret: _shownOnce, ...withoutSecret } = k;
    assert.deepEqual((await s.app.inject({ url: twilioKey(k.sid), headers: s.asAlice })).json(), withoutSecret);
    const list = (await s.app.inject({ url: twilioKeys(), headers: s.asAlice })).json();
    assert.deepEqual(list.keys, [withoutSecret]);
    assert.equal(list.next_page_uri, null);
    const renamed = await s.postForm(twilioKey(k.sid), { FriendlyName: 'ci runner' });
    assert.equal(renamed.statusCode, 200);
    assert.equal(renamed.json().friendly_name, 'ci runner');
    assert.equal(renamed.json().secret, undefined);
    const unknown = await s.postForm(twilioKey(k.sid), { Secret: 'mine' });
    assert.deepEqual([unknown.statusCode, unknown.json().code, unknown.json().message], [400, 20001, 'Unknown parameter "Secret"']);
    assert.equal((await s.app.inject({ method: 'DELETE', url: twilioKey(k.sid), headers: s.asAlice })).statusCode, 204);
    assert.equal((await s.app.inject({ url: twilioKey(k.sid), headers: s.asAlice })).statusCode, 404);
  });

  it('native dialect: create 201 with secret, fetch, patch, delete', async () => {
    const created = await s.json('POST', '/v1/keys', { friendlyName: 'deploy' });
    assert.equal(created.statusCode, 201, created.body);
    const k = created.json();
    assert.deepEqual(Object.keys(k).sort(), ['accountSid', 'dateCreated', 'dateUpdated', 'friendlyName', 'secret', 'sid']);
    const fetched = (await s.app.inject({ url: `/v1/keys/${k.sid}`, headers: s.asAlice })).json();
    assert.deepEqual(Object.keys(fetched).sort(), ['accountSid', 'dateCreated', 'dateUpdated', 'friendlyName', 'sid']);
    const patched = await s.json('PATCH', `/v1/keys/${k.sid}`, { friendlyName: 'deploy 2' });
    assert.equal(patched.json().friendlyName, 'deploy 2');
    const bad = await s.json('PATCH', `/v1/keys/${k.sid}`, { friendlyName: 'x'.repeat(65) });
    assert.deepEqual([bad.statusCode, bad.json().code, bad.json().message], [400, 20001, 'Invalid friendlyName: at most 64 characters']);
    assert.equal((await s.app.inject({ method: 'DELETE', url: `/v1/keys/${k.sid}`, headers: s.asAlice })).statusCode, 204);
    assert.equal((await s.app.inject({ url: `/v1/keys/${k.sid}`, headers: s.asAlice })).statusCode, 404);
  });

  it('SK…:secret authenticates as the key\'s account in both APIs; a deleted key stops working at once', async () => {
    const k = (await s.json('POST', '/v1/keys', { friendlyName: 'app' })).json();
    const asKey = { authorization: basic(k.sid, k.secret) };
    const num = await s.postForm(`${s.twilioBase(s.alice)}/IncomingPhoneNumbers.json`, { PhoneNumber: '8000' }, asKey);
    assert.equal(num.statusCode, 201, num.body);
    assert.equal(num.json().account_sid, s.alice.sid);
    const listed = await s.app.inject({ url: '/v1/numbers', headers: asKey });
    assert.equal(listed.statusCode, 200);
    assert.deepEqual(listed.json().numbers.map((n: { sid: string }) => n.sid), [num.json().sid]);
    // The key acts for its own account only: another account's path is a 404.
    const other = await s.app.inject({ url: `${s.twilioBase(s.bob)}/IncomingPhoneNumbers.json`, headers: asKey });
    assert.equal(other.statusCode, 404);

    const wrongSecret = await s.app.inject({ url: '/v1/numbers', headers: { authorization: basic(k.sid, `${k.secret}x`) } });
    assert.deepEqual([wrongSecret.statusCode, wrongSecret.json().code], [401, 20003]);
    const unknownKey = await s.app.inject({ url: '/v1/numbers', headers: { authorization: basic(newSid('SK'), k.secret) } });
    assert.equal(unknownKey.statusCode, 401);

    assert.equal((await s.app.inject({ method: 'DELETE', url: `/v1/keys/${k.sid}`, headers: s.asAlice })).statusCode, 204);
    const revoked = await s.app.inject({ url: `${s.twilioBase(s.alice)}/IncomingPhoneNumbers.json`, headers: asKey });
    assert.equal(revoked.statusCode, 401);
    assert.deepEqual(revoked.json(), {
      code: 20003, message: 'Authenticate', more_info: 'https://www.twilio.com/docs/errors/20003', status: 401, detail: 'Your AccountSid or AuthToken was incorrect.',
    });
    assert.match(String(revoked.headers['www-authenticate']), /^Basic realm="Patchbay"/);
  });

  it('an API key cannot manage keys (only the auth token can): 403 in both dialects', async () => {
    const k = (await s.json('POST', '/v1/keys', { friendlyName: 'limited' })).json();
    const asKey = { authorization: basic(k.sid, k.secret) };
    for (const res of [
      await s.json('POST', '/v1/keys', { friendlyName: 'escalate' }, asKey),
      await s.app.inject({ url: '/v1/keys', headers: asKey }),
      await s.app.inject({ method: 'DELETE', url: `/v1/keys/${k.sid}`, headers: asKey }),
      await s.postForm(twilioKeys(), { FriendlyName: 'escalate' }, asKey),
      await s.app.inject({ url: twilioKey(k.sid), headers: asKey }),
    ]) {
      assert.equal(res.statusCode, 403, res.body);
      assert.equal(res.json().code, 20403);
    }
    assert.equal((await s.app.inject({ url: `/v1/keys/${k.sid}`, headers: s.asAlice })).statusCode, 200);
  });

  it('another account\'s key is a 404 in both dialects and cannot be renamed or deleted', async () => {
    const bobs = (await s.json('POST', '/v1/keys', { friendlyName: 'bob key' }, s.asBob)).json();
    for (const res of await Promise.all([
      s.app.inject({ url: twilioKey(bobs.sid), headers: s.asAlice }),
      s.postForm(twilioKey(bobs.sid), { FriendlyName: 'mine' }),
      s.app.inject({ method: 'DELETE', url: twilioKey(bobs.sid), headers: s.asAlice }),
      s.app.inject({ url: `/v1/keys/${bobs.sid}`, headers: s.asAlice }),
      s.json('PATCH', `/v1/keys/${bobs.sid}`, { friendlyName: 'mine' }),
      s.app.inject({ method: 'DELETE', url: `/v1/keys/${bobs.sid}`, headers: s.asAlice }),
    ])) {
      assert.equal(res.statusCode, 404, res.body);
    }
    const still = (await s.app.inject({ url: `/v1/keys/${bobs.sid}`, headers: s.asBob })).json();
    assert.equal(still.friendlyName, 'bob key');
    // And bob's key still works for bob.
    assert.equal((await s.app.inject({ url: '/v1/numbers', headers: { authorization: basic(bobs.sid, bobs.secret) } })).statusCode, 200);
  });
});
