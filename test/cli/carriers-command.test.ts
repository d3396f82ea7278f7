import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newSid } from '../../src/ids.js';
import { startApiTestServer, type ApiTestServer } from './api-test-server.js';

describe('patchbay carriers', () => {
  let s: ApiTestServer;
  before(async () => {
    s = await startApiTestServer();
  });
  after(async () => s?.close());

  it('lists nothing at first', async () => {
    const r = await s.cli(['carriers', 'list']);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.out, 'No carriers.\n');
  });

  it('adds a carrier from flags (repeatable prefixes and addresses), shows the password only as "set"', async () => {
    const r = await s.cli([
      'carriers', 'add', '--host', 'sip.carrier.example', '--friendly-name', 'Main', '--port', '5080', '--transport', 'TCP',
      '--username', 'trunk', '--password', 'hunter22', '--register', '--register-expires', '600',
      '--prefix', '+1', '--prefix', '+4420', '--priority', '5', '--inbound-address', '203.0.113.0/24', '--inbound-address', '2001:db8::1',
      '--from-domain', 'pbx.example.com', '--tech-prefix', '99#',
    ]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^sid: +TK[0-9a-f]{32}$/m);
    assert.match(r.out, /^name: +Main$/m);
    assert.match(r.out, /^transport: +tcp$/m);
    assert.match(r.out, /^password: +set$/m);
    assert.match(r.out, /^register: +yes, every 600 s$/m);
    assert.match(r.out, /^prefixes: +\+1, \+4420$/m);
    assert.match(r.out, /^inbound addresses: +203\.0\.113\.0\/24, 2001:db8::1$/m);
    assert.match(r.out, /^enabled: +yes$/m);
    assert.match(r.out, /^srtp: +optional$/m);
    assert.ok(!r.out.includes('hunter22'));
    const stored = (await s.store.listCarriers({ accountSid: s.account.sid, pageSize: 10 })).items[0]!;
    assert.deepEqual([stored.port, stored.registerExpires, stored.priority, stored.fromDomain, stored.techPrefix, stored.password], [5080, 600, 5, 'pbx.example.com', '99#', 'hunter22']);

    const backup = await s.cli(['carriers', 'add', '--host', '198.51.100.7', '--disable', '--json']);
    assert.equal(backup.code, 0, backup.err);
    const json = JSON.parse(backup.out) as { enabled: boolean; hasPassword: boolean; prefixes: string[]; friendlyName: string };
    assert.deepEqual([json.enabled, json.hasPassword, json.prefixes, json.friendlyName], [false, false, [], '198.51.100.7']);

    const list = await s.cli(['carriers', 'list']);
    const [header, ...rows] = list.out.trimEnd().split('\n');
    assert.match(header!, /^SID +NAME +ADDRESS +PRIORITY +PREFIXES +REGISTER +ENABLED$/);
    assert.equal(rows.length, 2);
    assert.match(rows[0]!, /^TK[0-9a-f]{32} +198\.51\.100\.7 +udp:198\.51\.100\.7:5060 +10 +all +no +no$/);
    assert.match(rows[1]!, /^TK[0-9a-f]{32} +Main +tcp:sip\.carrier\.example:5080 +5 +\+1,\+4420 +yes +yes$/);
  });

  it('shows and updates by name or SID; clears lists; enables', async () => {
    const shown = await s.cli(['carriers', 'show', 'Main', '--json']);
    assert.equal(shown.code, 0, shown.err);
    const sid = (JSON.parse(shown.out) as { sid: string }).sid;
    const updated = await s.cli(['carriers', 'update', 'Main', '--no-register', '--clear-prefixes', '--priority', '1', '--disable']);
    assert.equal(updated.code, 0, updated.err);
    assert.match(updated.out, /^register: +no$/m);
    assert.match(updated.out, /^prefixes: +every number$/m);
    assert.match(updated.out, /^priority: +1$/m);
    assert.match(updated.out, /^enabled: +no$/m);
    const again = await s.cli(['carriers', 'update', sid, '--enable', '--srtp', 'Required', '--json']);
    assert.equal(JSON.parse(again.out).enabled, true);
    assert.equal(JSON.parse(again.out).srtp, 'required');
    assert.equal((await s.store.getCarrier(s.account.sid, sid))?.srtp, 'required');
    const bad = await s.cli(['carriers', 'update', sid, '--srtp', 'always']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /srtp must be optional, required or off/);
    const digest = await s.cli(['carriers', 'update', sid, '--inbound-username', 'main-in', '--inbound-password', 'main-in-secret']);
    assert.equal(digest.code, 0, digest.err);
    assert.match(digest.out, /^inbound username: +main-in$/m);
    assert.ok(!digest.out.includes('main-in-secret'));
    assert.match((await s.store.getCarrier(s.account.sid, sid))?.inboundHa1Sha256 ?? '', /^[0-9a-f]{64}$/);
    const cleared = await s.cli(['carriers', 'update', sid, '--inbound-username', '']);
    assert.equal(cleared.code, 0, cleared.err);
    assert.equal((await s.store.getCarrier(s.account.sid, sid))?.inboundUsername, null);
  });

  it("reports usage errors with exit 2 and the API's refusals with exit 1", async () => {
    const noHost = await s.cli(['carriers', 'add', '--port', '5060']);
    assert.equal(noHost.code, 2);
    assert.match(noHost.err, /--host is required/);
    const both = await s.cli(['carriers', 'update', 'Main', '--enable', '--disable']);
    assert.equal(both.code, 2);
    assert.match(both.err, /--enable and --disable cannot be used together/);
    const port = await s.cli(['carriers', 'add', '--host', 'x.example', '--port', 'abc']);
    assert.equal(port.code, 2);
    const nothing = await s.cli(['carriers', 'update', 'Main']);
    assert.equal(nothing.code, 2);
    const bad = await s.cli(['carriers', 'add', '--host', 'x.example', '--port', '70000']);
    assert.equal(bad.code, 1);
    assert.match(bad.err, /^patchbay: error 20001: carrier field port must be an integer from 1 to 65535, got 70000 \(HTTP 400\)\n$/);
    const unknown = await s.cli(['carriers', 'show', 'Nope']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /error 20404: no carrier Nope on this account/);
  });

  it("removes by name or SID; another account's SID exits 1", async () => {
    const byName = await s.cli(['carriers', 'remove', 'Main']);
    assert.equal(byName.code, 0, byName.err);
    assert.match(byName.out, /^Removed Main \(TK[0-9a-f]{32}\)\.\n$/);
    const foreign = await s.store.createCarrier({
      sid: newSid('TK'), accountSid: s.other.sid, friendlyName: 'theirs', host: 'their.example', port: 5060, transport: 'udp', username: null,
      password: null, register: false, registerExpires: 3600, prefixes: [], priority: 10, inboundAddresses: [], inboundUsername: null, inboundRealm: null, inboundHa1Md5: null, inboundHa1Sha256: null, fromDomain: null, techPrefix: '', enabled: true,
    });
    const denied = await s.cli(['carriers', 'remove', foreign.sid]);
    assert.equal(denied.code, 1);
    assert.match(denied.err, /error 20404/);
    assert.ok(await s.store.getCarrier(s.other.sid, foreign.sid));
  });
});
