import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { BLOCKED_ADDRESS_CODE, blockedRange, blockedUrlHost, guardedLookup } from '../../src/webhooks/address-policy.js';

/** A resolver answering from a table, in either of Node's lookup shapes. */
function tableLookup(table: Record<string, string[]>): LookupFunction {
  return ((host: string, opts: { all?: boolean }, cb: (err: NodeJS.ErrnoException | null, a: string | LookupAddress[], f?: number) => void) => {
    const addrs = (table[host] ?? []).map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    process.nextTick(() => (opts.all ? cb(null, addrs) : cb(null, addrs[0]!.address, addrs[0]!.family)));
  }) as unknown as LookupFunction;
}

function resolve(lookup: LookupFunction, host: string, all: boolean): Promise<{ err: NodeJS.ErrnoException | null; address: string | LookupAddress[] }> {
  return new Promise((done) => lookup(host, { all }, (err, address) => done({ err, address })));
}

describe('blockedRange', () => {
  const blocked = [
    '127.0.0.1', '127.255.255.254', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254',
    '100.64.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255',
    '::1', '::', 'fc00::1', 'fd12:3456::1', 'fe80::1', 'fe80::1%eth0', 'ff02::1',
    '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:a9fe:a9fe', '::ffff:10.0.0.1', '[::ffff:192.168.0.1]',
    '::127.0.0.1', '64:ff9b::7f00:1', '2002:7f00:1::', '0:0:0:0:0:ffff:7f00:0001',
  ];
  const allowed = ['8.8.8.8', '1.1.1.1', '172.32.0.1', '172.15.255.255', '100.128.0.1', '169.255.0.1', '2606:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1'];
  for (const a of blocked) it(`blocks ${a}`, () => assert.notEqual(blockedRange(a), null));
  for (const a of allowed) it(`allows ${a}`, () => assert.equal(blockedRange(a), null));

  it('names the range, so the refusal explains itself', () => {
    assert.match(blockedRange('169.254.169.254')!, /link-local/);
    assert.match(blockedRange('::ffff:7f00:1')!, /loopback 127\.0\.0\.0\/8 \(embedded in IPv6\)/);
  });
});

describe('blockedUrlHost', () => {
  it('refuses IP literals in blocked ranges, including bracketed and mapped IPv6 forms', () => {
    for (const url of ['http://127.0.0.1:8080/x', 'https://[::1]/x', 'http://[::ffff:127.0.0.1]/x', 'http://[::ffff:a9fe:a9fe]/latest/meta-data', 'ws://10.0.0.5/s']) {
      const err = blockedUrlHost(new URL(url));
      assert.ok(err, url);
      assert.equal(err.code, BLOCKED_ADDRESS_CODE);
    }
  });
  it('leaves names (checked at connect time) and public literals alone', () => {
    assert.equal(blockedUrlHost(new URL('http://localhost/x')), null);
    assert.equal(blockedUrlHost(new URL('https://93.184.216.34/x')), null);
  });
});

describe('guardedLookup', () => {
  const base = tableLookup({
    'app.example': ['93.184.216.34'],
    'rebind.example': ['127.0.0.1'],
    'mixed.example': ['10.0.0.1', '93.184.216.34'],
    'metadata.example': ['169.254.169.254', 'fe80::1'],
  });
  const lookup = guardedLookup(base);

  it('passes public answers through in both lookup shapes', async () => {
    assert.equal((await resolve(lookup, 'app.example', false)).address, '93.184.216.34');
    assert.deepEqual((await resolve(lookup, 'app.example', true)).address, [{ address: '93.184.216.34', family: 4 }]);
  });

  it('fails with a coded error when every answer is blocked', async () => {
    for (const host of ['rebind.example', 'metadata.example']) {
      for (const all of [false, true]) {
        const { err } = await resolve(lookup, host, all);
        assert.equal(err?.code, BLOCKED_ADDRESS_CODE, `${host} all=${all}`);
        assert.match(err!.message, new RegExp(host.replace('.', '\\.')));
      }
    }
  });

  it('drops blocked answers and connects only to the public ones', async () => {
    assert.deepEqual((await resolve(lookup, 'mixed.example', true)).address, [{ address: '93.184.216.34', family: 4 }]);
    assert.equal((await resolve(lookup, 'mixed.example', false)).address, '93.184.216.34');
  });

  it('refuses localhost through the real resolver', async () => {
    const { err } = await resolve(guardedLookup(), 'localhost', true);
    assert.equal(err?.code, BLOCKED_ADDRESS_CODE);
  });
});
