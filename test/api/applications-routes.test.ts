import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newSid } from '../../src/ids.js';
import { basic, startConfigTestServer, type ConfigTestServer } from './config-test-server.js';

describe('Applications API (Twilio and native)', () => {
  let s: ConfigTestServer;
  before(async () => void (s = await startConfigTestServer()));
  after(() => s?.close());

  const twilioList = () => `${s.twilioBase(s.alice)}/Applications.json`;
  const twilioOne = (sid: string) => `${s.twilioBase(s.alice)}/Applications/${sid}.json`;

  it('Twilio dialect: create 201 with the Application shape, fetch, update, delete 204', async () => {
    const created = await s.postForm(twilioList(), { FriendlyName: 'IVR', VoiceUrl: 'https://ivr.example.com/start', VoiceFallbackUrl: 'https://ivr.example.com/sorry', VoiceFallbackMethod: 'GET' });
    assert.equal(created.statusCode, 201, created.body);
    const a = created.json();
    assert.match(a.sid, /^AP[0-9a-f]{32}$/);
    assert.deepEqual({ ...a, sid: 'X', date_created: 'D', date_updated: 'D' }, {
      account_sid: s.alice.sid, api_version: '2010-04-01', date_created: 'D', date_updated: 'D', friendly_name: 'IVR',
      message_status_callback: null, sid: 'X', sms_fallback_method: 'POST', sms_fallback_url: null, sms_method: 'POST',
      sms_status_callback: null, sms_url: null, status_callback: null, status_callback_method: 'POST',
      uri: `/2010-04-01/Accounts/${s.alice.sid}/Applications/${a.sid}.json`, voice_caller_id_lookup: false,
      voice_fallback_method: 'GET', voice_fallback_url: 'https://ivr.example.com/sorry', voice_method: 'POST',
      voice_url: 'https://ivr.example.com/start', public_application_connect_enabled: false,
    });
    assert.match(a.date_updated, /\+0000$/);
    assert.deepEqual((await s.app.inject({ url: twilioOne(a.sid), headers: s.asAlice })).json(), a);

    const updated = await s.postForm(twilioOne(a.sid), { StatusCallback: 'https://ivr.example.com/status', VoiceFallbackUrl: '' });
    assert.equal(updated.statusCode, 200, updated.body);
    assert.deepEqual([updated.json().status_callback, updated.json().voice_fallback_url, updated.json().friendly_name], ['https://ivr.example.com/status', null, 'IVR']);

    // An update with no parameters changes nothing and answers the resource.
    const empty = await s.app.inject({ method: 'POST', url: twilioOne(a.sid), headers: s.asAlice });
    assert.equal(empty.statusCode, 200, empty.body);
    assert.equal(empty.json().status_callback, 'https://ivr.example.com/status');

    assert.equal((await s.app.inject({ method: 'DELETE', url: twilioOne(a.sid), headers: s.asAlice })).statusCode, 204);
    assert.equal((await s.app.inject({ url: twilioOne(a.sid), headers: s.asAlice })).statusCode, 404);
  });

  it('native dialect: create 201, fetch, patch, delete 204', async () => {
    const created = await s.json('POST', '/v1/applications', { friendlyName: 'Hotline', voiceUrl: 'http://hotline.example.com/' });
    assert.equal(created.statusCode, 201, created.body);
    const a = created.json();
    assert.deepEqual({ ...a, sid: 'X', dateCreated: 'D', dateUpdated: 'D' }, {
      sid: 'X', accountSid: s.alice.sid, friendlyName: 'Hotline', voiceUrl: 'http://hotline.example.com/', voiceMethod: 'POST',
      voiceFallbackUrl: null, voiceFallbackMethod: 'POST', statusCallback: null, statusCallbackMethod: 'POST', dateCreated: 'D', dateUpdated: 'D',
    });
    const patched = await s.json('PATCH', `/v1/applications/${a.sid}`, { voiceMethod: 'GET', friendlyName: null });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.deepEqual([patched.json().voiceMethod, patched.json().friendlyName, patched.json().voiceUrl], ['GET', '', 'http://hotline.example.com/']);
    assert.deepEqual((await s.app.inject({ url: `/v1/applications/${a.sid}`, headers: s.asAlice })).json(), patched.json());
    assert.equal((await s.app.inject({ method: 'DELETE', url: `/v1/applications/${a.sid}`, headers: s.asAlice })).statusCode, 204);
    assert.equal((await s.app.inject({ url: `/v1/applications/${a.sid}`, headers: s.asAlice })).json().code, 20404);
  });

  it('bad input is a 400 naming the field in both dialects', async () => {
    const cases: [string, string, number, string, string][] = [
      ['VoiceUrl', 'mailto:x@example.com', 21502, 'Invalid VoiceUrl: must be an http:// or https:// URL', 'Invalid voiceUrl: must be an http:// or https:// URL'],
      ['StatusCallback', 'not a url', 21502, 'Invalid StatusCallback: "not a url" is not an absolute URL', 'Invalid statusCallback: "not a url" is not an absolute URL'],
      ['VoiceMethod', 'DELETE', 20001, 'Invalid VoiceMethod: must be GET or POST, got "DELETE"', 'Invalid voiceMethod: must be GET or POST, got "DELETE"'],
      ['FriendlyName', 'two\nlines', 20001, 'Invalid FriendlyName: must be on one line', 'Invalid friendlyName: must be on one line'],
      ['Bogus', 'x', 20001, 'Unknown parameter "Bogus"', 'Unknown field "bogus"'],
    ];
    for (const [field, value, code, twilioMessage, nativeMessage] of cases) {
      const tw = await s.postForm(twilioList(), { [field]: value });
      assert.deepEqual([tw.statusCode, tw.json()], [400, { code, message: twilioMessage, more_info: `https://www.twilio.com/docs/errors/${code}`, status: 400 }]);
      const nat = await s.json('POST', '/v1/applications', { [field.charAt(0).toLowerCase() + field.slice(1)]: value });
      assert.deepEqual([nat.statusCode, nat.json()], [400, { code, message: nativeMessage, moreInfo: `https://www.twilio.com/docs/errors/${code}`, status: 400 }]);
    }
    const notObject = await s.app.inject({ method: 'POST', url: '/v1/applications', headers: { ...s.asAlice, 'content-type': 'application/json' }, payload: '[1]' });
    assert.deepEqual([notObject.statusCode, notObject.json().code], [400, 20001]);
    assert.deepEqual((await s.app.inject({ url: '/v1/applications', headers: s.asAlice })).json().applications, []);
  });

  it('another account\'s application is a 404 everywhere and survives the attempts', async () => {
    const bobs = (await s.json('POST', '/v1/applications', { friendlyName: 'bob' }, s.asBob)).json();
    for (const res of await Promise.all([
      s.app.inject({ url: twilioOne(bobs.sid), headers: s.asAlice }),
      s.postForm(twilioOne(bobs.sid), { FriendlyName: 'taken' }),
      s.app.inject({ method: 'DELETE', url: twilioOne(bobs.sid), headers: s.asAlice }),
      s.app.inject({ url: `/v1/applications/${bobs.sid}`, headers: s.asAlice }),
      s.json('PATCH', `/v1/applications/${bobs.sid}`, { friendlyName: 'taken' }),
      s.app.inject({ method: 'DELETE', url: `/v1/applications/${bobs.sid}`, headers: s.asAlice }),
      // A SID of the wrong type in the Twilio path is as unknown as a missing one.
      s.app.inject({ url: `${s.twilioBase(s.alice)}/Applications/${newSid('PN')}.json`, headers: s.asAlice }),
    ])) {
      assert.equal(res.statusCode, 404, res.body);
    }
    assert.deepEqual((await s.app.inject({ url: `/v1/applications/${bobs.sid}`, headers: s.asBob })).json(), bobs);
    const mismatch = await s.app.inject({ url: `${s.twilioBase(s.bob)}/Applications.json`, headers: s.asAlice });
    assert.equal(mismatch.statusCode, 404);
    const wrong = await s.app.inject({ url: twilioList(), headers: { authorization: basic(s.alice.sid, 'wrong') } });
    assert.deepEqual([wrong.statusCode, wrong.json().code], [401, 20003]);
  });

  it('deleting an application leaves the numbers that used it with their own settings', async () => {
    const app = (await s.json('POST', '/v1/applications', { voiceUrl: 'https://app.example.com/' })).json();
    const n = (await s.json('POST', '/v1/numbers', { phoneNumber: '7000', voiceApplicationSid: app.sid, voiceUrl: 'https://own.example.com/' })).json();
    assert.equal(n.voiceApplicationSid, app.sid);
    assert.equal((await s.app.inject({ method: 'DELETE', url: `/v1/applications/${app.sid}`, headers: s.asAlice })).statusCode, 204);
    const after = (await s.app.inject({ url: `/v1/numbers/${n.sid}`, headers: s.asAlice })).json();
    assert.deepEqual([after.voiceApplicationSid, after.voiceUrl], [null, 'https://own.example.com/']);
  });

  it('pages over 3 pages in both dialects, with the FriendlyName filter', async () => {
    const dave = (await s.store.ensureAccount({ sid: newSid('AC'), authToken: 'dave-secret' })).account;
    const headers = { authorization: basic(dave.sid, 'dave-secret') };
    const sids: string[] = [];
    for (let i = 0; i < 6; i++) {
      sids.push((await s.json('POST', '/v1/applications', { friendlyName: i % 2 ? 'odd' : 'even' }, headers)).json().sid);
      // Distinct creation times, so newest-first is a single order.
      await new Promise((r) => setTimeout(r, 3));
    }

    const walk = async (first: string, key: string, next: (body: Record<string, unknown>) => string | null): Promise<string[][]> => {
      const pages: string[][] = [];
      let url: string | null = first;
      while (url) {
        const body = (await s.app.inject({ url, headers })).json() as Record<string, unknown>;
        pages.push((body[key] as { sid: string }[]).map((a) => a.sid));
        url = next(body);
      }
      return pages;
    };
    const tw = await walk(`/2010-04-01/Accounts/${dave.sid}/Applications.json?PageSize=2`, 'applications', (b) => b.next_page_uri as string | null);
    assert.deepEqual(tw, [[sids[5], sids[4]], [sids[3], sids[2]], [sids[1], sids[0]]]);
    const nat = await walk('/v1/applications?pageSize=2', 'applications', (b) => b.nextPageUri as string | null);
    assert.deepEqual(nat, tw);
    const odd = await walk(`/2010-04-01/Accounts/${dave.sid}/Applications.json?PageSize=1&FriendlyName=odd`, 'applications', (b) => b.next_page_uri as string | null);
    assert.deepEqual(odd, [[sids[5]], [sids[3]], [sids[1]]]);
  });
});
