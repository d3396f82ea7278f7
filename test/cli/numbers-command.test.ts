import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newSid } from '../../src/ids.js';
import { startApiTestServer, type ApiTestServer } from './api-test-server.js';

describe('patchbay numbers', () => {
  let s: ApiTestServer;
  before(async () => {
    s = await startApiTestServer();
  });
  after(async () => s?.close());

  it('lists nothing at first', async () => {
    const r = await s.cli(['numbers', 'list']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'No numbers.\n');
    assert.deepEqual((JSON.parse((await s.cli(['numbers', 'list', '--json'])).out) as { numbers: unknown[] }).numbers, []);
  });

  it('adds numbers, then lists them as an aligned table and as JSON', async () => {
    const main = await s.cli(['numbers', 'add', '+14155550100', '--voice-url', 'https://app.example/voice', '--friendly-name', 'Main line']);
    assert.equal(main.code, 0, main.err);
    assert.match(main.out, /^sid: +PN[0-9a-f]{32}$/m);
    assert.match(main.out, /^number: +\+14155550100$/m);
    assert.match(main.out, /^friendly name: +Main line$/m);
    assert.match(main.out, /^voice method: +POST$/m);
    const ext = await s.cli(['numbers', 'add', '1000', '--voice-url', 'https://app.example/ext', '--voice-method', 'get', '--json']);
    assert.equal(ext.code, 0, ext.err);
    const extJson = JSON.parse(ext.out) as { sid: string; phoneNumber: string; voiceMethod: string; friendlyName: string };
    assert.deepEqual([extJson.phoneNumber, extJson.voiceMethod, extJson.friendlyName], ['1000', 'GET', '1000']);

    const list = await s.cli(['numbers', 'list']);
    const [header, ...rows] = list.out.trimEnd().split('\n');
    assert.match(header!, /^SID +NUMBER +FRIENDLY NAME +VOICE URL +METHOD$/);
    assert.equal(rows.length, 2);
    assert.match(rows[0]!, new RegExp(`^${extJson.sid} +1000 +1000 +https://app\\.example/ext +GET$`));
    assert.match(rows[1]!, /^PN[0-9a-f]{32} +\+14155550100 +Main line +https:\/\/app\.example\/voice +POST$/);
    // Columns line up: the NUMBER column starts at the same place in every line.
    const col = header!.indexOf('NUMBER');
    assert.ok(rows.every((row) => row[col - 1] === ' ' && row[col] !== ' '));
  });

  it("reports the API's refusal (taken number 21422, bad number 21421) with exit 1", async () => {
    const taken = await s.cli(['numbers', 'add', '+14155550100', '--voice-url', 'https://app.example/other']);
    assert.equal(taken.code, 1);
    assert.match(taken.err, /^patchbay: error 21422: .*\(HTTP 400\)\n$/);
    const bad = await s.cli(['numbers', 'add', 'not a number', '--voice-url', 'https://app.example/other']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /^patchbay: error 21421: /);
  });

  it('removes by number or by SID; an unknown number or another account’s SID exits 1', async () => {
    const byNumber = await s.cli(['numbers', 'remove', '+14155550100']);
    assert.equal(byNumber.code, 0, byNumber.err);
    assert.match(byNumber.out, /^Removed \+14155550100 \(PN[0-9a-f]{32}\)\.\n$/);
    const page = JSON.parse((await s.cli(['numbers', 'list', '--json'])).out) as { numbers: { sid: string; phoneNumber: string }[] };
    assert.deepEqual(page.numbers.map((n) => n.phoneNumber), ['1000']);
    const sid = page.numbers[0]!.sid;
    const bySid = await s.cli(['numbers', 'remove', sid, '--json']);
    assert.equal(bySid.code, 0, bySid.err);
    assert.deepEqual(JSON.parse(bySid.out), { sid, deleted: true });
    assert.equal((await s.cli(['numbers', 'list'])).out, 'No numbers.\n');

    const unknown = await s.cli(['numbers', 'remove', '+19999999999']);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.err, 'patchbay: error 20404: no number +19999999999 on this account (HTTP 404)\n');
    const foreign = await s.store.createNumber({
      sid: newSid('PN'), accountSid: s.other.sid, phoneNumber: '+14155550199', friendlyName: 'theirs', voiceApplicationSid: null,
      voiceUrl: 'https://other.example/', voiceMethod: 'POST', voiceFallbackUrl: null, voiceFallbackMethod: 'POST', statusCallback: null, statusCallbackMethod: 'POST',
    });
    assert.equal((await s.cli(['numbers', 'remove', foreign.sid])).code, 1);
    assert.equal((await s.cli(['numbers', 'remove', '+14155550199'])).code, 1);
    assert.ok(await s.store.getNumber(s.other.sid, foreign.sid));
  });

  it('exits 2 with the usage on bad command lines', async () => {
    for (const args of [['numbers'], ['numbers', 'buy'], ['numbers', 'add', '+1555'], ['numbers', 'add', '--voice-url', 'https://a.example/'], ['numbers', 'remove'], ['numbers', 'list', '--limit', '5000']]) {
      const r = await s.cli(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.err, /\n\nUsage:\n/);
    }
  });
});
