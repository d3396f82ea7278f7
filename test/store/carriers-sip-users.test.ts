import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newSid } from '../../src/ids.js';
import { PgliteStore } from '../../src/store/pglite-store.js';
import { StoreError, type CarrierRecord, type ResourcePage, type SipUserRecord } from '../../src/store/store-types.js';

/** Lets the clock move on, so consecutive creations get distinct creation times. */
const tick = (): Promise<void> => new Promise((r) => setTimeout(r, 3));

function carrierRec(accountSid: string, over: Partial<CarrierRecord> = {}): CarrierRecord {
  return {
    sid: newSid('TK'),
    accountSid,
    friendlyName: 'Carrier A',
    host: 'sip.carrier.example',
    port: 5060,
    transport: 'udp',
    username: 'trunk1',
    password: 's3cret!',
    register: false,
    registerExpires: 3600,
    prefixes: ['+1', '+4420'],
    priority: 10,
    inboundAddresses: ['203.0.113.0/24', '2001:db8::1'], inboundUsername: null, inboundRealm: null, inboundHa1Md5: null, inboundHa1Sha256: null,
    fromDomain: null,
    techPrefix: '',
    enabled: true,
    srtp: 'optional',
    ...over,
  };
}

let userCounter = 0;
function userRec(accountSid: string, over: Partial<SipUserRecord> = {}): SipUserRecord {
  const username = `user${++userCounter}.${Math.floor(Math.random() * 1e6)}`;
  return {
    sid: newSid('US'),
    accountSid,
    username,
    friendlyName: 'Desk phone',
    realm: 'patchbay',
    ha1Md5: createHash('md5').update(`${username}:patchbay:pw`).digest('hex'),
    ha1Sha256: createHash('sha256').update(`${username}:patchbay:pw`).digest('hex'),
    voiceApplicationSid: null,
    voiceUrl: 'http://127.0.0.1:8080/user',
    voiceMethod: 'POST',
    voiceFallbackUrl: null,
    voiceFallbackMethod: 'POST',
    statusCallback: null,
    statusCallbackMethod: 'POST',
    srtp: 'optional',
    ...over,
  };
}

async function rejectsWith(p: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => err instanceof StoreError && err.code === code && (!message || message.test(err.message)));
}

function plain<T extends { dateCreated: string; dateUpdated: string }>(stored: T): Omit<T, 'dateCreated' | 'dateUpdated'> {
  const { dateCreated, dateUpdated, ...rest } = stored;
  assert.ok(!Number.isNaN(Date.parse(dateCreated)) && Date.parse(dateUpdated) >= Date.parse(dateCreated));
  return rest;
}

async function allSids<T extends { sid: string }>(list: (pageToken?: string) => Promise<ResourcePage<T>>, pageSize: number): Promise<{ sids: string[]; pages: number }> {
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

describe('PgliteStore carriers and SIP users', () => {
  let dir: string;
  let store: PgliteStore;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'patchbay-carriers-users-'));
    store = await PgliteStore.open(dir);
  });
  after(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates, reads, updates and deletes carriers (lists and password kept as given), only within their account', async () => {
    const acct = newSid('AC');
    const other = newSid('AC');
    const rec = carrierRec(acct);
    const created = await store.createCarrier(rec);
    assert.deepEqual(plain(created), rec);
    assert.deepEqual(await store.getCarrier(acct, rec.sid), created);
    assert.equal(await store.getCarrier(other, rec.sid), null);
    assert.equal(await store.updateCarrier(other, rec.sid, { priority: 1 }), null);
    assert.equal(await store.deleteCarrier(other, rec.sid), false);

    const updated = await store.updateCarrier(acct, rec.sid, { prefixes: [], port: 5080, transport: 'tcp', enabled: false, fromDomain: 'pbx.example.com', techPrefix: '1234#' });
    assert.ok(updated);
    assert.deepEqual(
      [updated.prefixes, updated.port, updated.transport, updated.enabled, updated.fromDomain, updated.techPrefix],
      [[], 5080, 'tcp', false, 'pbx.example.com', '1234#'],
    );
    assert.equal(updated.password, 's3cret!', 'fields outside the patch stay');
    assert.deepEqual(updated.inboundAddresses, rec.inboundAddresses);
    assert.equal(updated.dateCreated, created.dateCreated);
    // Credentials are cleared as a pair; registering then is refused.
    const noAuth = await store.updateCarrier(acct, rec.sid, { username: null, password: null });
    assert.deepEqual([noAuth?.username, noAuth?.password], [null, null]);
    await rejectsWith(store.updateCarrier(acct, rec.sid, { register: true }), 'INVALID_RECORD', /register needs a username and password/);
    await rejectsWith(store.updateCarrier(acct, rec.sid, { username: 'only-user' }), 'INVALID_RECORD', /username and password must be given together/);
    const moved = await store.updateCarrier(acct, rec.sid, { sid: newSid('TK'), accountSid: other } as never);
    assert.deepEqual([moved?.sid, moved?.accountSid], [rec.sid, acct]);

    assert.equal(await store.deleteCarrier(acct, rec.sid), true);
    assert.equal(await store.deleteCarrier(acct, rec.sid), false);
    assert.equal(await store.getCarrier(acct, rec.sid), null);
  });

  it('refuses invalid carrier fields with INVALID_RECORD and stores nothing', async () => {
    const acct = newSid('AC');
    const cases: [Partial<CarrierRecord>, RegExp][] = [
      [{ host: '' }, /host/],
      [{ host: 'bad host' }, /host/],
      [{ port: 0 }, /port/],
      [{ port: 65536 }, /port/],
      [{ port: 5060.5 }, /port/],
      [{ transport: 'tls' as never }, /transport/],
      [{ registerExpires: 59 }, /registerExpires/],
      [{ registerExpires: 86401 }, /registerExpires/],
      [{ priority: -1 }, /priority/],
      [{ priority: 1001 }, /priority/],
      [{ prefixes: [''] }, /prefixes/],
      [{ prefixes: ['+1-800'] }, /prefixes/],
      [{ prefixes: ['1+'] }, /prefixes/],
      [{ prefixes: '+1' as never }, /prefixes/],
      [{ inboundAddresses: ['203.0.113.0/33'] }, /inboundAddresses/],
      [{ inboundAddresses: ['carrier.example'] }, /inboundAddresses/],
      [{ inboundAddresses: ['2001:db8::/129'] }, /inboundAddresses/],
      [{ inboundAddresses: ['10.0.0.1/'] }, /inboundAddresses/],
      [{ register: 'yes' as never }, /register/],
      [{ register: true, username: null, password: null }, /register needs/],
      [{ password: null }, /together/],
      [{ username: 'a\r\nb' }, /username/],
      [{ techPrefix: '12 34' }, /techPrefix/],
      [{ fromDomain: '' }, /fromDomain/],
      [{ enabled: 1 as never }, /enabled/],
      [{ sid: newSid('PN') }, /sid/],
      [{ srtp: 'mandatory' as never }, /srtp must be optional, required or off/],
    ];
    for (const [over, message] of cases) {
      await rejectsWith(store.createCarrier(carrierRec(acct, over)), 'INVALID_RECORD', message);
    }
    const { host: _omitted, ...missingHost } = carrierRec(acct);
    await rejectsWith(store.createCarrier(missingHost as CarrierRecord), 'INVALID_RECORD', /host is missing/);
    // Accepted edge values: every prefix ("+"), an IPv6 block, a bracketed IPv6 host, limits.
    const edge = await store.createCarrier(carrierRec(acct, {
      host: '[2001:db8::5]', port: 65535, prefixes: ['+', '0044'], inboundAddresses: ['0.0.0.0/0', '2001:db8::/32'], inboundUsername: null, inboundRealm: null, inboundHa1Md5: null, inboundHa1Sha256: null, registerExpires: 60, priority: 0,
      register: true,
    }));
    assert.equal(edge.host, '[2001:db8::5]');
    assert.deepEqual((await store.listCarriers({ accountSid: acct, pageSize: 10 })).items.map((c) => c.sid), [edge.sid]);
  });

  it('lists carriers newest first with cursors and a friendlyName filter', async () => {
    const acct = newSid('AC');
    const made: string[] = [];
    for (let i = 0; i < 5; i++) {
      made.push((await store.createCarrier(carrierRec(acct, { friendlyName: i % 2 === 0 ? 'even' : 'odd' }))).sid);
      await tick();
    }
    await store.createCarrier(carrierRec(newSid('AC')));
    const { sids, pages } = await allSids((pageToken) => store.listCarriers({ accountSid: acct, pageSize: 2, ...(pageToken ? { pageToken } : {}) }), 2);
    assert.deepEqual(sids, [...made].reverse());
    assert.equal(pages, 3);
    const odd = await store.listCarriers({ accountSid: acct, pageSize: 10, friendlyName: 'odd' });
    assert.deepEqual(odd.items.map((c) => c.sid), [made[3], made[1]]);
    await rejectsWith(store.listCarriers({ accountSid: acct, pageSize: 0 }), 'INVALID_QUERY');
  });

  it('gives enabled carriers in priority order, then creation order; disabled ones never', async () => {
    const acct = newSid('AC');
    const other = newSid('AC');
    const late = await store.createCarrier(carrierRec(acct, { priority: 20, friendlyName: 'late' }));
    await tick();
    const first = await store.createCarrier(carrierRec(acct, { priority: 5, friendlyName: 'first' }));
    await tick();
    const tieOlder = await store.createCarrier(carrierRec(acct, { priority: 10, friendlyName: 'tie older' }));
    await tick();
    const off = await store.createCarrier(carrierRec(acct, { priority: 1, enabled: false }));
    await tick();
    const tieNewer = await store.createCarrier(carrierRec(acct, { priority: 10, friendlyName: 'tie newer' }));
    const elsewhere = await store.createCarrier(carrierRec(other, { priority: 0 }));

    assert.deepEqual((await store.enabledCarriers(acct)).map((c) => c.friendlyName), ['first', 'tie older', 'tie newer', 'late']);
    assert.deepEqual(await store.enabledCarriers(newSid('AC')), []);
    const all = (await store.allEnabledCarriers()).map((c) => c.sid);
    for (const sid of [late.sid, first.sid, tieOlder.sid, tieNewer.sid, elsewhere.sid]) assert.ok(all.includes(sid));
    assert.ok(!all.includes(off.sid));
    // Re-enabling puts it back in its priority slot.
    await store.updateCarrier(acct, off.sid, { enabled: true });
    assert.equal((await store.enabledCarriers(acct))[0]?.sid, off.sid);
  });

  it('creates, finds by username, updates and deletes SIP users, only within their account', async () => {
    const acct = newSid('AC');
    const other = newSid('AC');
    const rec = userRec(acct, { username: 'alice.smith' });
    const created = await store.createSipUser(rec);
    assert.deepEqual(plain(created), rec);
    assert.deepEqual(await store.getSipUser(acct, rec.sid), created);
    assert.deepEqual(await store.findSipUser('alice.smith'), created, 'the registrar finds a user whatever its account');
    assert.equal(await store.findSipUser('Alice.Smith'), null, 'usernames are case-sensitive, like SIP URI users');
    assert.equal(await store.getSipUser(other, rec.sid), null);
    assert.equal(await store.updateSipUser(other, rec.sid, { friendlyName: 'x' }), null);
    assert.equal(await store.deleteSipUser(other, rec.sid), false);

    const ha1Md5 = createHash('md5').update('alice.smith:patchbay:new').digest('hex');
    const updated = await store.updateSipUser(acct, rec.sid, { ha1Md5, voiceUrl: null, voiceMethod: 'GET' });
    assert.deepEqual([updated?.ha1Md5, updated?.voiceUrl, updated?.voiceMethod, updated?.ha1Sha256], [ha1Md5, null, 'GET', rec.ha1Sha256]);
    const renamed = await store.updateSipUser(acct, rec.sid, { username: 'alice' });
    assert.equal(renamed?.username, 'alice');
    assert.equal(await store.findSipUser('alice.smith'), null);

    assert.equal(await store.deleteSipUser(acct, rec.sid), true);
    assert.equal(await store.deleteSipUser(acct, rec.sid), false);
    assert.equal(await store.findSipUser('alice'), null);
  });

  it('keeps usernames unique across accounts (DUPLICATE_USERNAME), on create and on rename', async () => {
    const a = newSid('AC');
    const b = newSid('AC');
    await store.createSipUser(userRec(a, { username: 'bob' }));
    await rejectsWith(store.createSipUser(userRec(b, { username: 'bob' })), 'DUPLICATE_USERNAME', /"bob" is already in use/);
    await rejectsWith(store.createSipUser(userRec(a, { username: 'bob' })), 'DUPLICATE_USERNAME');
    const carol = await store.createSipUser(userRec(b, { username: 'carol' }));
    await rejectsWith(store.updateSipUser(b, carol.sid, { username: 'bob' }), 'DUPLICATE_USERNAME');
    assert.equal((await store.getSipUser(b, carol.sid))?.username, 'carol');
    assert.equal((await store.findSipUser('bob'))?.accountSid, a);
  });

  it('refuses invalid SIP user fields with INVALID_RECORD', async () => {
    const acct = newSid('AC');
    const cases: [Partial<SipUserRecord>, RegExp][] = [
      [{ username: '' }, /username/],
      [{ username: 'a'.repeat(65) }, /username/],
      [{ username: 'alice@example' }, /username/],
      [{ username: 'al ice' }, /username/],
      [{ realm: '' }, /realm/],
      [{ realm: 'a"b' }, /realm/],
      [{ ha1Md5: 'A'.repeat(32) }, /ha1Md5/],
      [{ ha1Sha256: '0'.repeat(32) }, /ha1Sha256/],
      [{ voiceUrl: 'ftp://x' }, /voiceUrl/],
      [{ voiceMethod: 'PUT' as never }, /voiceMethod/],
      [{ voiceApplicationSid: 'AP1' }, /voiceApplicationSid/],
      [{ voiceApplicationSid: newSid('AP') }, /no application/],
      [{ sid: newSid('TK') }, /sid/],
      [{ srtp: 'on' as never }, /srtp must be optional, required or off/],
    ];
    for (const [over, message] of cases) {
      await rejectsWith(store.createSipUser(userRec(acct, over)), 'INVALID_RECORD', message);
    }
    assert.deepEqual((await store.listSipUsers({ accountSid: acct, pageSize: 10 })).items, []);
  });

  it('lists SIP users newest first with cursors and exact username / friendlyName filters', async () => {
    const acct = newSid('AC');
    const made: string[] = [];
    for (let i = 0; i < 5; i++) {
      made.push((await store.createSipUser(userRec(acct, { friendlyName: i < 2 ? 'front' : 'back' }))).sid);
      await tick();
    }
    const { sids, pages } = await allSids((pageToken) => store.listSipUsers({ accountSid: acct, pageSize: 2, ...(pageToken ? { pageToken } : {}) }), 2);
    assert.deepEqual(sids, [...made].reverse());
    assert.equal(pages, 3);
    assert.deepEqual((await store.listSipUsers({ accountSid: acct, pageSize: 10, friendlyName: 'front' })).items.map((u) => u.sid), [made[1], made[0]]);
    const one = (await store.getSipUser(acct, made[2]!))!;
    assert.deepEqual((await store.listSipUsers({ accountSid: acct, pageSize: 10, username: one.username })).items.map((u) => u.sid), [one.sid]);
    assert.deepEqual((await store.listSipUsers({ accountSid: newSid('AC'), pageSize: 10, username: one.username })).items, []);
  });

  it("points users only at their own account's applications; deleting the application clears users and numbers", async () => {
    const acct = newSid('AC');
    const other = newSid('AC');
    const app = await store.createApplication({
      sid: newSid('AP'), accountSid: acct, friendlyName: 'IVR', voiceUrl: 'http://127.0.0.1/app', voiceMethod: 'POST',
      voiceFallbackUrl: null, voiceFallbackMethod: 'POST', statusCallback: null, statusCallbackMethod: 'POST',
    });
    const keep = await store.createApplication({ ...app, sid: newSid('AP') });
    await rejectsWith(store.createSipUser(userRec(other, { voiceApplicationSid: app.sid })), 'INVALID_RECORD', /no application/);
    const u1 = await store.createSipUser(userRec(acct, { voiceApplicationSid: app.sid, voiceUrl: 'http://127.0.0.1/own' }));
    const u2 = await store.createSipUser(userRec(acct, { voiceApplicationSid: keep.sid }));
    const n1 = await store.createNumber({
      sid: newSid('PN'), accountSid: acct, phoneNumber: `+1666${Date.now() % 1e7}`, friendlyName: '', voiceApplicationSid: app.sid,
      voiceUrl: null, voiceMethod: 'POST', voiceFallbackUrl: null, voiceFallbackMethod: 'POST', statusCallback: null, statusCallbackMethod: 'POST',
    });

    assert.equal(await store.deleteApplication(acct, app.sid), true);
    const after1 = await store.getSipUser(acct, u1.sid);
    assert.equal(after1?.voiceApplicationSid, null);
    assert.equal(after1?.voiceUrl, 'http://127.0.0.1/own', 'the user keeps its own settings');
    assert.equal((await store.getSipUser(acct, u2.sid))?.voiceApplicationSid, keep.sid, 'users of other applications are untouched');
    assert.equal((await store.getNumber(acct, n1.sid))?.voiceApplicationSid, null);
  });

  it('keeps each carrier\'s and user\'s SRTP policy: optional when not given, required or off when set, patchable', async () => {
    const acct = newSid('AC');
    const { srtp: _c, ...carrierWithout } = carrierRec(acct);
    assert.equal((await store.createCarrier(carrierWithout)).srtp, 'optional');
    const carrier = await store.createCarrier(carrierRec(acct, { srtp: 'required' }));
    assert.equal((await store.getCarrier(acct, carrier.sid))?.srtp, 'required');
    assert.equal((await store.updateCarrier(acct, carrier.sid, { srtp: 'off' }))?.srtp, 'off');
    await rejectsWith(store.updateCarrier(acct, carrier.sid, { srtp: 'yes' as never }), 'INVALID_RECORD', /srtp/);
    const { srtp: _u, ...userWithout } = userRec(acct);
    assert.equal((await store.createSipUser(userWithout)).srtp, 'optional');
    const user = await store.createSipUser(userRec(acct, { srtp: 'required' }));
    assert.equal((await store.findSipUser(user.username))?.srtp, 'required');
    assert.equal((await store.updateSipUser(acct, user.sid, { srtp: 'off' }))?.srtp, 'off');
  });
});
