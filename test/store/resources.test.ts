import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PgliteStore } from '../../src/store/pglite-store.js';
import {
  StoreError,
  type ApiKeyRecord,
  type ApplicationRecord,
  type IncomingNumberRecord,
  type ResourcePage,
} from '../../src/store/store-types.js';
import { newSid } from '../../src/ids.js';

/** Lets the clock move on, so consecutive creations get distinct creation times. */
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 3));

function numberRec(accountSid: string, over: Partial<IncomingNumberRecord> = {}): IncomingNumberRecord {
  return {
    sid: newSid('PN'),
    accountSid,
    phoneNumber: `+1555${Math.floor(Math.random() * 1e7).toString().padStart(7, '0')}`,
    friendlyName: 'Front desk',
    voiceApplicationSid: null,
    voiceUrl: 'http://127.0.0.1:8080/voice',
    voiceMethod: 'POST',
    voiceFallbackUrl: null,
    voiceFallbackMethod: 'POST',
    statusCallback: null,
    statusCallbackMethod: 'POST',
    ...over,
  };
}

function appRec(accountSid: string, over: Partial<ApplicationRecord> = {}): ApplicationRecord {
  return {
    sid: newSid('AP'),
    accountSid,
    friendlyName: 'IVR',
    voiceUrl: 'https://127.0.0.1/app',
    voiceMethod: 'GET',
    voiceFallbackUrl: 'https://127.0.0.1/fallback',
    voiceFallbackMethod: 'POST',
    statusCallback: 'http://127.0.0.1/status',
    statusCallbackMethod: 'GET',
    ...over,
  };
}

function keyRec(accountSid: string, over: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  return { sid: newSid('SK'), accountSid, friendlyName: 'ci', secretSha256: createHash('sha256').update(newSid('XX')).digest('hex'), ...over };
}

async function rejectsWith(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => err instanceof StoreError && err.code === code && (!message || message.test(err.message)));
}

/** Walks every page; asserts no page is larger than asked and the last one says so. */
async function allPages<T extends { sid: string }>(list: (pageToken?: string) => Promise<ResourcePage<T>>, pageSize: number): Promise<{ sids: string[]; pages: number }> {
  const sids: string[] = [];
  let token: string | undefined;
  let pages = 0;
  do {
    const page = await list(token);
    assert.ok(page.items.length <= pageSize);
    sids.push(...page.items.map((i) => i.sid));
    token = page.nextPageToken ?? undefined;
    pages++;
  } while (token);
  return { sids, pages };
}

function plain<T extends { dateCreated: string; dateUpdated: string }>(stored: T): Omit<T, 'dateCreated' | 'dateUpdated'> {
  const { dateCreated, dateUpdated, ...rest } = stored;
  assert.ok(!Number.isNaN(Date.parse(dateCreated)) && Date.parse(dateUpdated) >= Date.parse(dateCreated));
  return rest;
}

describe('PgliteStore numbers, applications and API keys', () => {
  let dir: string;
  let store: PgliteStore;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'patchbay-resources-'));
    store = await PgliteStore.open(dir);
  });
  after(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates, reads, updates and deletes numbers, only within their account', async () => {
    const acct = newSid('AC');
    const other = newSid('AC');
    const rec = numberRec(acct, { phoneNumber: '1000' }); // a SIP user part is a valid "number"
    const created = await store.createNumber(rec);
    assert.deepEqual(plain(created), rec);
    assert.deepEqual(await store.getNumber(acct, rec.sid), created);
    assert.equal(await store.getNumber(other, rec.sid), null, "another account's SID reads as missing");
    assert.equal(await store.updateNumber(other, rec.sid, { friendlyName: 'stolen' }), null);
    assert.equal(await store.deleteNumber(other, rec.sid), false);

    const updated = await store.updateNumber(acct, rec.sid, {
      friendlyName: 'Support', voiceUrl: 'https://127.0.0.1/support', voiceMethod: 'GET', statusCallback: 'http://127.0.0.1/cb',
    });
    assert.ok(updated);
    assert.equal(updated.friendlyName, 'Support');
    assert.equal(updated.voiceUrl, 'https://127.0.0.1/support');
    assert.equal(updated.voiceMethod, 'GET');
    assert.equal(updated.statusCallback, 'http://127.0.0.1/cb');
    assert.equal(updated.phoneNumber, '1000', 'fields outside the patch stay');
    assert.equal(updated.dateCreated, created.dateCreated);
    assert.ok(Date.parse(updated.dateUpdated) >= Date.parse(created.dateUpdated));
    assert.deepEqual(await store.getNumber(acct, rec.sid), updated);
    // Identity and owner cannot be patched, even by a caller that ignores the type.
    const moved = await store.updateNumber(acct, rec.sid, { sid: newSid('PN'), accountSid: other } as never);
    assert.equal(moved?.sid, rec.sid);
    assert.equal(moved?.accountSid, acct);
    const cleared = await store.updateNumber(acct, rec.sid, { voiceUrl: null });
    assert.equal(cleared?.voiceUrl, null);

    assert.equal(await store.updateNumber(acct, newSid('PN'), { friendlyName: 'x' }), null);
    assert.equal(await store.deleteNumber(acct, rec.sid), true);
    assert.equal(await store.deleteNumber(acct, rec.sid), false);
    assert.equal(await store.getNumber(acct, rec.sid), null);
  });

  it('keeps phone numbers unique across accounts, and finds one by number for inbound routing', async () => {
    const a = newSid('AC');
    const b = newSid('AC');
    const na = await store.createNumber(numberRec(a, { phoneNumber: '+14155550100' }));
    await rejectsWith(store.createNumber(numberRec(b, { phoneNumber: '+14155550100' })), 'DUPLICATE_NUMBER', /\+14155550100/);
    await rejectsWith(store.createNumber(numberRec(a, { phoneNumber: '+14155550100' })), 'DUPLICATE_NUMBER');
    await rejectsWith(store.createNumber(numberRec(a, { sid: na.sid, phoneNumber: '+14155550199' })), 'DUPLICATE_SID');
    const nb = await store.createNumber(numberRec(b, { phoneNumber: 'support' }));
    await rejectsWith(store.updateNumber(b, nb.sid, { phoneNumber: '+14155550100' }), 'DUPLICATE_NUMBER');
    assert.equal((await store.getNumber(b, nb.sid))?.phoneNumber, 'support', 'the refused update changed nothing');

    assert.deepEqual(await store.findNumber('+14155550100'), na);
    assert.deepEqual(await store.findNumber('support'), nb);
    assert.equal(await store.findNumber('+14155550101'), null);
    assert.equal(await store.findNumber('Support'), null, 'exact match only');

    // A released number can be taken by another account.
    assert.equal(await store.deleteNumber(a, na.sid), true);
    const again = await store.createNumber(numberRec(b, { phoneNumber: '+14155550100' }));
    assert.equal((await store.findNumber('+14155550100'))?.sid, again.sid);
  });

  it('refuses invalid number fields with INVALID_RECORD and stores nothing', async () => {
    const acct = newSid('AC');
    const bad: Partial<IncomingNumberRecord>[] = [
      { sid: newSid('CA') },
      { sid: 'PN123' },
      { accountSid: 'AC-nope' },
      { phoneNumber: '' },
      { phoneNumber: '+1 415 555' },
      { phoneNumber: 'sip:alice@127.0.0.1' },
      { phoneNumber: 'x'.repeat(129) },
      { voiceMethod: 'PUT' as 'GET' },
      { statusCallbackMethod: 'post' as 'POST' },
      { voiceUrl: 'ftp://127.0.0.1/x' },
      { voiceUrl: '/relative' },
      { voiceFallbackUrl: '' },
      { friendlyName: 'n'.repeat(256) },
      { voiceApplicationSid: newSid('PN') },
      { voiceApplicationSid: newSid('AP') }, // well-formed, but no such application
    ];
    for (const over of bad) {
      const rec = numberRec(acct, over);
      await rejectsWith(store.createNumber(rec), 'INVALID_RECORD');
    }
    const missing = numberRec(acct) as Partial<IncomingNumberRecord>;
    delete missing.voiceFallbackUrl;
    await rejectsWith(store.createNumber(missing as IncomingNumberRecord), 'INVALID_RECORD', /voiceFallbackUrl is missing/);
    assert.deepEqual((await store.listNumbers({ accountSid: acct, pageSize: 10 })).items, []);

    const ok = await store.createNumber(numberRec(acct));
    await rejectsWith(store.updateNumber(acct, ok.sid, { voiceMethod: 'DELETE' as 'GET' }), 'INVALID_RECORD');
    await rejectsWith(store.updateNumber(acct, ok.sid, { phoneNumber: 'a b' }), 'INVALID_RECORD');
  });

  it('points numbers only at their own account’s applications', async () => {
    const a = newSid('AC');
    const b = newSid('AC');
    const appA = await store.createApplication(appRec(a));
    const appB = await store.createApplication(appRec(b));
    const n = await store.createNumber(numberRec(a, { voiceApplicationSid: appA.sid }));
    assert.equal(n.voiceApplicationSid, appA.sid);
    await rejectsWith(store.createNumber(numberRec(a, { voiceApplicationSid: appB.sid })), 'INVALID_RECORD', /no application/);
    await rejectsWith(store.updateNumber(a, n.sid, { voiceApplicationSid: appB.sid }), 'INVALID_RECORD', /no application/);
    assert.equal((await store.updateNumber(a, n.sid, { voiceApplicationSid: null }))?.voiceApplicationSid, null);
  });

  it('lists numbers newest first with cursors and exact PhoneNumber / FriendlyName filters', async () => {
    const acct = newSid('AC');
    const records: { sid: string; dateCreated: string; friendlyName: string }[] = [];
    for (let i = 0; i < 7; i++) {
      records.push(await store.createNumber(numberRec(acct, { friendlyName: i % 2 === 0 ? 'even' : 'odd' })));
      // Distinct creation times (the API shows milliseconds; the database keeps microseconds).
      await tick();
    }
    const created = records.map((r) => r.sid);
    await store.createNumber(numberRec(newSid('AC'), { friendlyName: 'even' })); // another account's never shows
    // Newest first; two creations in the same clock tick fall back to SID order (descending).
    const order = (list: typeof records) =>
      [...list].sort((a, b) => (a.dateCreated === b.dateCreated ? (a.sid < b.sid ? 1 : -1) : Date.parse(b.dateCreated) - Date.parse(a.dateCreated))).map((r) => r.sid);
    const newestFirst = order(records);

    const { sids, pages } = await allPages((pageToken) => store.listNumbers({ accountSid: acct, pageSize: 3, ...(pageToken ? { pageToken } : {}) }), 3);
    assert.equal(pages, 3);
    assert.deepEqual(sids, newestFirst);

    const even = await allPages((pageToken) => store.listNumbers({ accountSid: acct, friendlyName: 'even', pageSize: 2, ...(pageToken ? { pageToken } : {}) }), 2);
    assert.deepEqual(even.sids, order(records.filter((r) => r.friendlyName === 'even')));

    const one = await store.getNumber(acct, created[3]!);
    const byNumber = await store.listNumbers({ accountSid: acct, phoneNumber: one!.phoneNumber, pageSize: 50 });
    assert.deepEqual(byNumber, { items: [one], nextPageToken: null });
    assert.deepEqual((await store.listNumbers({ accountSid: newSid('AC'), phoneNumber: one!.phoneNumber, pageSize: 50 })).items, []);

    await rejectsWith(store.listNumbers({ accountSid: acct, pageSize: 0 }), 'INVALID_QUERY');
    await rejectsWith(store.listNumbers({ accountSid: acct, pageSize: 10, pageToken: 'nope' }), 'INVALID_PAGE_TOKEN');
    await rejectsWith(store.listNumbers({ accountSid: acct, pageSize: 10, friendlyName: 7 as unknown as string }), 'INVALID_QUERY');
  });

  it('creates, reads, updates, lists and deletes applications, only within their account', async () => {
    const acct = newSid('AC');
    const other = newSid('AC');
    const rec = appRec(acct);
    const created = await store.createApplication(rec);
    assert.deepEqual(plain(created), rec);
    assert.deepEqual(await store.getApplication(acct, rec.sid), created);
    assert.equal(await store.getApplication(other, rec.sid), null);
    assert.equal(await store.updateApplication(other, rec.sid, { friendlyName: 'x' }), null);
    assert.equal(await store.deleteApplication(other, rec.sid), false);

    const updated = await store.updateApplication(acct, rec.sid, { friendlyName: 'Queue', voiceFallbackUrl: null, voiceMethod: 'POST' });
    assert.equal(updated?.friendlyName, 'Queue');
    assert.equal(updated?.voiceFallbackUrl, null);
    assert.equal(updated?.voiceMethod, 'POST');
    assert.equal(updated?.voiceUrl, rec.voiceUrl);
    await rejectsWith(store.updateApplication(acct, rec.sid, { statusCallback: 'not a url' }), 'INVALID_RECORD');
    await rejectsWith(store.createApplication(appRec(acct, { sid: newSid('PN') })), 'INVALID_RECORD');
    await rejectsWith(store.createApplication(appRec(acct, { voiceFallbackMethod: 'HEAD' as 'GET' })), 'INVALID_RECORD');
    await rejectsWith(store.createApplication({ ...rec }), 'DUPLICATE_SID');

    const more = [];
    for (let i = 0; i < 4; i++) {
      // Distinct creation times, so newest-first is one order (the API shows milliseconds).
      await tick();
      more.push((await store.createApplication(appRec(acct, { friendlyName: i < 2 ? 'Queue' : 'Other' }))).sid);
    }
    const all = await allPages((pageToken) => store.listApplications({ accountSid: acct, pageSize: 2, ...(pageToken ? { pageToken } : {}) }), 2);
    assert.deepEqual(all.sids, [...more].reverse().concat(rec.sid));
    const queue = await store.listApplications({ accountSid: acct, friendlyName: 'Queue', pageSize: 10 });
    assert.deepEqual(queue.items.map((a) => a.sid), [more[1], more[0], rec.sid]);

    assert.equal(await store.deleteApplication(acct, rec.sid), true);
    assert.equal(await store.deleteApplication(acct, rec.sid), false);
    assert.equal(await store.getApplication(acct, rec.sid), null);
  });

  it("deleting an application clears the numbers pointing at it, which keep their own settings", async () => {
    const acct = newSid('AC');
    const app = await store.createApplication(appRec(acct));
    const keep = await store.createApplication(appRec(acct));
    const n1 = await store.createNumber(numberRec(acct, { voiceApplicationSid: app.sid, voiceUrl: 'http://127.0.0.1/own' }));
    const n2 = await store.createNumber(numberRec(acct, { voiceApplicationSid: app.sid }));
    const n3 = await store.createNumber(numberRec(acct, { voiceApplicationSid: keep.sid }));

    assert.equal(await store.deleteApplication(acct, app.sid), true);
    const after1 = await store.getNumber(acct, n1.sid);
    assert.equal(after1?.voiceApplicationSid, null);
    assert.equal(after1?.voiceUrl, 'http://127.0.0.1/own');
    assert.ok(Date.parse(after1!.dateUpdated) >= Date.parse(n1.dateUpdated));
    assert.equal((await store.getNumber(acct, n2.sid))?.voiceApplicationSid, null);
    assert.equal((await store.getNumber(acct, n3.sid))?.voiceApplicationSid, keep.sid, 'numbers on other applications are untouched');
  });

  it('stores API keys by hash: create, find for authentication, rename, list, delete within the account', async () => {
    const acct = newSid('AC');
    const other = newSid('AC');
    const rec = keyRec(acct);
    const created = await store.createApiKey(rec);
    assert.deepEqual(plain(created), rec);
    assert.deepEqual(await store.findApiKey(rec.sid), created, 'found without knowing the account');
    assert.equal(await store.findApiKey(newSid('SK')), null);
    assert.deepEqual(await store.getApiKey(acct, rec.sid), created);
    assert.equal(await store.getApiKey(other, rec.sid), null);
    assert.equal(await store.updateApiKey(other, rec.sid, { friendlyName: 'x' }), null);
    assert.equal(await store.deleteApiKey(other, rec.sid), false);

    const renamed = await store.updateApiKey(acct, rec.sid, { friendlyName: 'deploy' });
    assert.equal(renamed?.friendlyName, 'deploy');
    assert.equal(renamed?.secretSha256, rec.secretSha256);
    const sneaky = await store.updateApiKey(acct, rec.sid, { friendlyName: 'deploy', secretSha256: '0'.repeat(64) } as never);
    assert.equal(sneaky?.secretSha256, rec.secretSha256, 'the secret cannot be patched');
    await rejectsWith(store.updateApiKey(acct, rec.sid, { friendlyName: 5 as unknown as string }), 'INVALID_RECORD');

    await rejectsWith(store.createApiKey(keyRec(acct, { secretSha256: 'A'.repeat(64) })), 'INVALID_RECORD');
    await rejectsWith(store.createApiKey(keyRec(acct, { secretSha256: 'a'.repeat(63) })), 'INVALID_RECORD');
    await rejectsWith(store.createApiKey(keyRec(acct, { sid: newSid('AP') })), 'INVALID_RECORD');
    await rejectsWith(store.createApiKey({ ...rec }), 'DUPLICATE_SID');

    await tick();
    const second = await store.createApiKey(keyRec(acct));
    await store.createApiKey(keyRec(other));
    const page1 = await store.listApiKeys({ accountSid: acct, pageSize: 1 });
    assert.deepEqual(page1.items.map((k) => k.sid), [second.sid]);
    assert.ok(page1.nextPageToken);
    const page2 = await store.listApiKeys({ accountSid: acct, pageSize: 1, pageToken: page1.nextPageToken });
    assert.deepEqual(page2.items.map((k) => k.sid), [rec.sid]);
    assert.equal(page2.nextPageToken, null);

    assert.equal(await store.deleteApiKey(acct, rec.sid), true);
    assert.equal(await store.findApiKey(rec.sid), null);
    assert.equal(await store.deleteApiKey(acct, rec.sid), false);
  });
});
