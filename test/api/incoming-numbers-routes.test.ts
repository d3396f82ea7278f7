import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import type { LightMyRequestResponse } from 'fastify';
import twilio from 'twilio';
import { newSid } from '../../src/ids.js';
import { basic, startConfigTestServer, type ConfigTestServer } from './config-test-server.js';

describe('IncomingPhoneNumbers API (Twilio and native)', () => {
  let s: ConfigTestServer;
  before(async () => void (s = await startConfigTestServer()));
  after(() => s?.close());

  const twilioList = () => `${s.twilioBase(s.alice)}/IncomingPhoneNumbers.json`;
  const twilioOne = (sid: string) => `${s.twilioBase(s.alice)}/IncomingPhoneNumbers/${sid}.json`;

  it('Twilio dialect: create 201, fetch, update, delete 204, then 404', async () => {
    const created = await s.postForm(twilioList(), { PhoneNumber: '+14155550100', VoiceUrl: 'https://app.example.com/voice', VoiceMethod: 'get', StatusCallback: 'https://app.example.com/status' });
    assert.equal(created.statusCode, 201, created.body);
    const n = created.json();
    assert.match(n.sid, /^PN[0-9a-f]{32}$/);
    assert.deepEqual(
      { ...n, sid: 'X', date_created: 'D', date_updated: 'D' },
      {
        account_sid: s.alice.sid, address_sid: null, address_requirements: 'none', api_version: '2010-04-01', beta: false,
        capabilities: { voice: true, sms: false, mms: false, fax: false }, date_created: 'D', date_updated: 'D',
        friendly_name: '+14155550100', identity_sid: null, phone_number: '+14155550100', origin: 'hosted', sid: 'X',
        sms_application_sid: null, sms_fallback_method: 'POST', sms_fallback_url: null, sms_method: 'POST', sms_url: null,
        status_callback: 'https://app.example.com/status', status_callback_method: 'POST', trunk_sid: null,
        uri: `/2010-04-01/Accounts/${s.alice.sid}/IncomingPhoneNumbers/${n.sid}.json`, voice_receive_mode: 'voice',
        voice_application_sid: null, voice_caller_id_lookup: false, voice_fallback_method: 'POST', voice_fallback_url: null,
        voice_method: 'GET', voice_url: 'https://app.example.com/voice', emergency_status: 'Inactive', emergency_address_sid: null,
        emergency_address_status: 'unregistered', bundle_sid: null, status: 'in-use', subresource_uris: {},
      },
    );
    assert.match(n.date_created, /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} \+0000$/);

    const fetched = await s.app.inject({ url: twilioOne(n.sid), headers: s.asAlice });
    assert.equal(fetched.statusCode, 200);
    assert.deepEqual(fetched.json(), n);

    // An empty value clears a URL, as Twilio's API does.
    const updated = await s.postForm(twilioOne(n.sid), { FriendlyName: 'Main line', StatusCallback: '', VoiceFallbackUrl: 'http://fallback.example.com/' });
    assert.equal(updated.statusCode, 200, updated.body);
    assert.equal(updated.json().friendly_name, 'Main line');
    assert.equal(updated.json().status_callback, null);
    assert.equal(updated.json().voice_fallback_url, 'http://fallback.example.com/');
    assert.equal(updated.json().voice_url, 'https://app.example.com/voice');

    const deleted = await s.app.inject({ method: 'DELETE', url: twilioOne(n.sid), headers: s.asAlice });
    assert.equal(deleted.statusCode, 204);
    assert.equal(deleted.body, '');
    const gone = await s.app.inject({ url: twilioOne(n.sid), headers: s.asAlice });
    assert.equal(gone.statusCode, 404);
    assert.deepEqual(gone.json(), {
      code: 20404, message: `The requested resource ${twilioOne(n.sid)} was not found`, more_info: 'https://www.twilio.com/docs/errors/20404', status: 404,
    });
    assert.equal((await s.app.inject({ method: 'DELETE', url: twilioOne(n.sid), headers: s.asAlice })).statusCode, 404);
  });

  it('native dialect: create 201, fetch, patch (null clears), delete 204, then 404', async () => {
    const created = await s.json('POST', '/v1/numbers', { phoneNumber: 'support', voiceUrl: 'https://app.example.com/support', friendlyName: 'Support desk' });
    assert.equal(created.statusCode, 201, created.body);
    const n = created.json();
    assert.deepEqual({ ...n, sid: 'X', dateCreated: 'D', dateUpdated: 'D' }, {
      sid: 'X', accountSid: s.alice.sid, phoneNumber: 'support', friendlyName: 'Support desk', voiceUrl: 'https://app.example.com/support',
      voiceMethod: 'POST', voiceFallbackUrl: null, voiceFallbackMethod: 'POST', statusCallback: null, statusCallbackMethod: 'POST',
      voiceApplicationSid: null, dateCreated: 'D', dateUpdated: 'D',
    });
    assert.ok(!Number.isNaN(Date.parse(n.dateCreated)));
    assert.deepEqual((await s.app.inject({ url: `/v1/numbers/${n.sid}`, headers: s.asAlice })).json(), n);

    const patched = await s.json('PATCH', `/v1/numbers/${n.sid}`, { voiceUrl: null, voiceMethod: 'GET', phoneNumber: '2000' });
    assert.equal(patched.statusCode, 200, patched.body);
    assert.deepEqual([patched.json().voiceUrl, patched.json().voiceMethod, patched.json().phoneNumber, patched.json().friendlyName], [null, 'GET', '2000', 'Support desk']);

    assert.equal((await s.app.inject({ method: 'DELETE', url: `/v1/numbers/${n.sid}`, headers: s.asAlice })).statusCode, 204);
    const gone = await s.app.inject({ url: `/v1/numbers/${n.sid}`, headers: s.asAlice });
    assert.equal(gone.statusCode, 404);
    assert.deepEqual(gone.json(), { code: 20404, message: `The requested resource /v1/numbers/${n.sid} was not found`, moreInfo: 'https://www.twilio.com/docs/errors/20404', status: 404 });
  });

  it('bad input is a 400 with Twilio-shaped JSON naming the field, in each dialect\'s spelling', async () => {
    const bobApp = (await s.json('POST', '/v1/applications', { friendlyName: 'bob app' }, s.asBob)).json().sid as string;
    const cases: [Record<string, string>, number, RegExp][] = [
      [{ VoiceUrl: 'https://a.example.com/' }, 21421, /^PhoneNumber is required$/],
      [{ PhoneNumber: '+0123' }, 21421, /^Invalid PhoneNumber: "\+0123"/],
      [{ PhoneNumber: 'has space' }, 21421, /^Invalid PhoneNumber/],
      [{ PhoneNumber: '3000', VoiceUrl: 'ftp://a.example.com/' }, 21502, /^Invalid VoiceUrl: must be an http/],
      [{ PhoneNumber: '3000', VoiceFallbackUrl: '/relative' }, 21502, /^Invalid VoiceFallbackUrl: "\/relative" is not an absolute URL$/],
      [{ PhoneNumber: '3000', StatusCallbackMethod: 'PUT' }, 20001, /^Invalid StatusCallbackMethod: must be GET or POST/],
      [{ PhoneNumber: '3000', FriendlyName: 'x'.repeat(65) }, 20001, /^Invalid FriendlyName: at most 64/],
      [{ PhoneNumber: '3000', VoiceApplicationSid: bobApp }, 21218, new RegExp(`^Invalid VoiceApplicationSid: ${bobApp} is not an application of this account$`)],
      [{ PhoneNumber: '3000', SmsUrl: 'https://a.example.com/' }, 20001, /^Unknown parameter "SmsUrl"$/],
    ];
    for (const [form, code, message] of cases) {
      const res = await s.postForm(twilioList(), form);
      assert.equal(res.statusCode, 400, JSON.stringify(form));
      const body = res.json();
      assert.equal(body.code, code, JSON.stringify(form));
      assert.match(body.message, message, JSON.stringify(form));
      assert.equal(body.more_info, `https://www.twilio.com/docs/errors/${code}`);
      assert.equal(body.status, 400);

      const native: Record<string, string> = {};
      for (const [k, v] of Object.entries(form)) native[k.charAt(0).toLowerCase() + k.slice(1)] = v;
      const nres = await s.json('POST', '/v1/numbers', native);
      assert.equal(nres.statusCode, 400, JSON.stringify(native));
      const nbody = nres.json();
      // Same rule, same code; the message names the field as the native client spells it.
      assert.equal(nbody.code, code === 21421 && !form.PhoneNumber ? 20001 : code, `${JSON.stringify(native)}: ${nres.body}`);
      assert.equal(nbody.moreInfo, `https://www.twilio.com/docs/errors/${nbody.code}`);
    }
    const twice = await s.postForm(twilioList(), [['PhoneNumber', '3000'], ['PhoneNumber', '3001']]);
    assert.deepEqual([twice.statusCode, twice.json().code, twice.json().message], [400, 20001, 'PhoneNumber was given 2 times']);
    const asJson = await s.app.inject({ method: 'POST', url: twilioList(), headers: { ...s.asAlice, 'content-type': 'application/json' }, payload: '{"PhoneNumber":"3000"}' });
    assert.equal(asJson.statusCode, 415);
    assert.equal(asJson.json().code, 20001);
    // Nothing above was created.
    const list = (await s.app.inject({ url: `/v1/numbers?phoneNumber=3000`, headers: s.asAlice })).json();
    assert.deepEqual(list.numbers, []);
  });

  it('a phone number is unique on the server: taken (even by another account) is 400 21422 in both dialects', async () => {
    assert.equal((await s.json('POST', '/v1/numbers', { phoneNumber: '+442071838750' }, s.asBob)).statusCode, 201);
    const tw = await s.postForm(twilioList(), { PhoneNumber: '+442071838750' });
    assert.deepEqual([tw.statusCode, tw.json().code, tw.json().message], [400, 21422, 'PhoneNumber +442071838750 is not available: it is already in use on this server']);
    const nat = await s.json('POST', '/v1/numbers', { phoneNumber: '+442071838750' });
    assert.deepEqual([nat.statusCode, nat.json().code, nat.json().message], [400, 21422, 'phoneNumber +442071838750 is not available: it is already in use on this server']);
    const mine = (await s.json('POST', '/v1/numbers', { phoneNumber: '+442071838751' })).json();
    const moved = await s.json('PATCH', `/v1/numbers/${mine.sid}`, { phoneNumber: '+442071838750' });
    assert.deepEqual([moved.statusCode, moved.json().code], [400, 21422]);
  });

  it('VoiceApplicationSid points a number at one of the account\'s applications', async () => {
    const app = (await s.postForm(`${s.twilioBase(s.alice)}/Applications.json`, { FriendlyName: 'IVR', VoiceUrl: 'https://ivr.example.com/' })).json();
    const n = await s.postForm(twilioList(), { PhoneNumber: '4000', VoiceApplicationSid: app.sid });
    assert.equal(n.statusCode, 201, n.body);
    assert.equal(n.json().voice_application_sid, app.sid);
    const cleared = await s.json('PATCH', `/v1/numbers/${n.json().sid}`, { voiceApplicationSid: null });
    assert.equal(cleared.json().voiceApplicationSid, null);
  });

  it('another account\'s number is a 404 in both dialects and cannot be updated or deleted', async () => {
    const bobs = (await s.postForm(`${s.twilioBase(s.bob)}/IncomingPhoneNumbers.json`, { PhoneNumber: '+15005550006', FriendlyName: 'bob' }, s.asBob)).json();
    const attempts = [
      s.app.inject({ url: twilioOne(bobs.sid), headers: s.asAlice }),
      s.postForm(twilioOne(bobs.sid), { FriendlyName: 'mine now' }),
      s.app.inject({ method: 'DELETE', url: twilioOne(bobs.sid), headers: s.asAlice }),
      s.app.inject({ url: `/v1/numbers/${bobs.sid}`, headers: s.asAlice }),
      s.json('PATCH', `/v1/numbers/${bobs.sid}`, { friendlyName: 'mine now' }),
      s.app.inject({ method: 'DELETE', url: `/v1/numbers/${bobs.sid}`, headers: s.asAlice }),
    ];
    for (const res of await Promise.all(attempts)) {
      assert.equal(res.statusCode, 404, res.body);
      assert.equal(res.json().code, 20404);
    }
    const still = await s.app.inject({ url: `${s.twilioBase(s.bob)}/IncomingPhoneNumbers/${bobs.sid}.json`, headers: s.asBob });
    assert.deepEqual(still.json(), bobs);
    const aliceList = (await s.app.inject({ url: twilioList(), headers: s.asAlice })).json();
    assert.ok(!aliceList.incoming_phone_numbers.some((n: { sid: string }) => n.sid === bobs.sid));
  });

  it('a path naming another account is a 404 even with valid credentials; wrong password 401', async () => {
    for (const res of [
      await s.app.inject({ url: `${s.twilioBase(s.bob)}/IncomingPhoneNumbers.json`, headers: s.asAlice }),
      await s.postForm(`${s.twilioBase(s.bob)}/IncomingPhoneNumbers.json`, { PhoneNumber: '5000' }),
      await s.app.inject({ url: `/2010-04-01/Accounts/${newSid('AC')}/IncomingPhoneNumbers.json`, headers: s.asAlice }),
    ]) {
      assert.equal(res.statusCode, 404);
      assert.equal(res.json().code, 20404);
    }
    const wrong = await s.app.inject({ url: twilioList(), headers: { authorization: basic(s.alice.sid, 'bob-secret') } });
    assert.equal(wrong.statusCode, 401);
    assert.deepEqual(wrong.json(), {
      code: 20003, message: 'Authenticate', more_info: 'https://www.twilio.com/docs/errors/20003', status: 401, detail: 'Your AccountSid or AuthToken was incorrect.',
    });
    const nativeWrong = await s.app.inject({ url: '/v1/numbers', headers: { authorization: basic(s.alice.sid, 'nope') } });
    assert.deepEqual([nativeWrong.statusCode, nativeWrong.json().code, nativeWrong.json().detail], [401, 20003, 'Your AccountSid or AuthToken was incorrect.']);
  });

  describe('paging over 3 pages', () => {
    let carol: { sid: string };
    let headers: { authorization: string };
    const created: string[] = [];
    before(async () => {
      carol = (await s.store.ensureAccount({ sid: newSid('AC'), authToken: 'carol-secret' })).account;
      headers = { authorization: basic(carol.sid, 'carol-secret') };
      for (let i = 0; i < 5; i++) {
        const res = await s.json('POST', '/v1/numbers', { phoneNumber: `+1202555010${i}`, friendlyName: i === 4 ? 'other' : 'pool' }, headers);
        created.push(res.json().sid);
        // Distinct creation times, so newest-first is a single order.
        await new Promise((r) => setTimeout(r, 3));
      }
    });

    it('Twilio: next_page_uri (relative) walks every page once, null on the last; page/start/end count', async () => {
      const base = `/2010-04-01/Accounts/${carol.sid}/IncomingPhoneNumbers.json`;
      let url: string | null = `${base}?PageSize=2`;
      const pages: { page: number; start: number; end: number; sids: string[] }[] = [];
      while (url) {
        const res: LightMyRequestResponse = await s.app.inject({ url, headers });
        assert.equal(res.statusCode, 200, res.body);
        const body = res.json();
        assert.equal(body.first_page_uri, `${base}?PageSize=2&Page=0`);
        assert.equal(body.previous_page_uri, null);
        assert.equal(body.page_size, 2);
        pages.push({ page: body.page, start: body.start, end: body.end, sids: body.incoming_phone_numbers.map((n: { sid: string }) => n.sid) });
        if (body.next_page_uri) assert.ok(body.next_page_uri.startsWith(`${base}?PageSize=2&Page=${body.page + 1}&PageToken=`), body.next_page_uri);
        url = body.next_page_uri;
      }
      assert.deepEqual(pages.map((p) => [p.page, p.start, p.end, p.sids.length]), [[0, 0, 1, 2], [1, 2, 3, 2], [2, 4, 4, 1]]);
      // Newest first, each record exactly once.
      assert.deepEqual(pages.flatMap((p) => p.sids), [...created].reverse());
    });

    it('Twilio: filters are applied and carried into next_page_uri', async () => {
      const base = `/2010-04-01/Accounts/${carol.sid}/IncomingPhoneNumbers.json`;
      const first = (await s.app.inject({ url: `${base}?FriendlyName=pool&PageSize=3`, headers })).json();
      assert.equal(first.incoming_phone_numbers.length, 3);
      assert.match(first.next_page_uri, /^[^?]+\?FriendlyName=pool&PageSize=3&Page=1&PageToken=/);
      const second = (await s.app.inject({ url: first.next_page_uri, headers })).json();
      assert.deepEqual(second.incoming_phone_numbers.map((n: { friendly_name: string }) => n.friendly_name), ['pool']);
      assert.equal(second.next_page_uri, null);
      const one = (await s.app.inject({ url: `${base}?PhoneNumber=%2B12025550102`, headers })).json();
      assert.deepEqual(one.incoming_phone_numbers.map((n: { sid: string }) => n.sid), [created[2]]);
      const bad = await s.app.inject({ url: `${base}?PageSize=0`, headers });
      assert.deepEqual([bad.statusCode, bad.json().code], [400, 20001]);
      assert.match(bad.json().message, /PageSize/);
      const badToken = await s.app.inject({ url: `${base}?PageSize=2&Page=1&PageToken=garbage`, headers });
      assert.deepEqual([badToken.statusCode, badToken.json().code], [400, 20001]);
    });

    it('native: nextPageUri walks every page once', async () => {
      let url: string | null = '/v1/numbers?pageSize=2';
      const sids: string[] = [];
      let pages = 0;
      while (url) {
        const body: { numbers: { sid: string }[]; nextPageToken: string | null; nextPageUri: string | null } = (await s.app.inject({ url, headers })).json();
        sids.push(...body.numbers.map((n: { sid: string }) => n.sid));
        pages++;
        url = body.nextPageUri;
        if (url) assert.equal(typeof body.nextPageToken, 'string');
      }
      assert.equal(pages, 3);
      assert.deepEqual(sids, [...created].reverse());
      const filtered = (await s.app.inject({ url: '/v1/numbers?friendlyName=other', headers })).json();
      assert.deepEqual(filtered.numbers.map((n: { sid: string }) => n.sid), [created[4]]);
    });

    it('the twilio npm library lists every page over real HTTP (it follows next_page_uri)', async () => {
      await s.app.listen({ host: '127.0.0.1', port: 0 });
      const { port } = s.app.server.address() as AddressInfo;
      const client = twilio(carol.sid, 'carol-secret');
      client.api.baseUrl = `http://127.0.0.1:${port}`;
      const seen: string[] = [];
      const numbers = await client.api.v2010.account.incomingPhoneNumbers.list({ pageSize: 2 });
      seen.push(...numbers.map((n) => n.sid));
      assert.deepEqual(seen, [...created].reverse());
      assert.equal(numbers[0]!.phoneNumber, '+12025550104');
      assert.ok(numbers[0]!.dateCreated instanceof Date && !Number.isNaN(numbers[0]!.dateCreated.getTime()));
      // And create/update/remove through the library's own calls.
      const made = await client.api.v2010.account.incomingPhoneNumbers.create({ phoneNumber: '+12025550199', voiceUrl: 'https://lib.example.com/', voiceMethod: 'GET' });
      assert.equal(made.voiceMethod, 'GET');
      const renamed = await client.api.v2010.account.incomingPhoneNumbers(made.sid).update({ friendlyName: 'via lib' });
      assert.equal(renamed.friendlyName, 'via lib');
      assert.equal(await client.api.v2010.account.incomingPhoneNumbers(made.sid).remove(), true);
      await assert.rejects(client.api.v2010.account.incomingPhoneNumbers(made.sid).fetch(), (err: { status?: number; code?: number }) => err.status === 404 && err.code === 20404);
    });
  });
});
