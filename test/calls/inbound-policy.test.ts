import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InboundPolicy, isLoopback, type CarrierSource } from '../../src/calls/inbound-policy.js';

const carriers: CarrierSource[] = [
  { sid: 'CR1', accountSid: 'AC1', inboundAddresses: ['203.0.113.0/24'] },
  { sid: 'CR2', accountSid: 'AC2', inboundAddresses: ['198.51.100.7', '2001:db8::/32'], srtp: 'required' },
  { sid: 'CR3', accountSid: 'AC1', inboundAddresses: [] },
];

test('a carrier\'s listed address or CIDR admits the call, names the carrier and gives its SRTP policy', async () => {
  const policy = new InboundPolicy({ mode: 'production', carriers: async () => carriers });
  assert.deepEqual(await policy.admitSource('203.0.113.99'), { admitted: true, via: 'carrier', carrierSid: 'CR1', accountSid: 'AC1', srtp: 'optional' });
  assert.deepEqual(await policy.admitSource('198.51.100.7'), { admitted: true, via: 'carrier', carrierSid: 'CR2', accountSid: 'AC2', srtp: 'required' });
  assert.deepEqual(await policy.admitSource('::ffff:198.51.100.7'), { admitted: true, via: 'carrier', carrierSid: 'CR2', accountSid: 'AC2', srtp: 'required' });
  assert.deepEqual(await policy.admitSource('2001:db8:1::5'), { admitted: true, via: 'carrier', carrierSid: 'CR2', accountSid: 'AC2', srtp: 'required' });
  assert.deepEqual(await policy.admitSource('198.51.100.8'), { admitted: false });
  assert.deepEqual(await policy.admitSource('203.0.114.1'), { admitted: false });
});

test('production mode does not trust loopback; development mode does', async () => {
  const prod = new InboundPolicy({ mode: 'production', carriers: async () => [] });
  const dev = new InboundPolicy({ mode: 'development', carriers: async () => [] });
  for (const source of ['127.0.0.1', '127.0.0.2', '::1', '::ffff:127.0.0.1']) {
    assert.deepEqual(await prod.admitSource(source), { admitted: false }, source);
    assert.deepEqual(await dev.admitSource(source), { admitted: true, via: 'loopback' }, source);
  }
  assert.deepEqual(await dev.admitSource('192.0.2.1'), { admitted: false }, 'development trusts loopback only');
});

test('a loopback carrier address is attributed to the carrier even in development mode', async () => {
  const dev = new InboundPolicy({ mode: 'development', carriers: async () => [{ sid: 'CRL', accountSid: 'AC9', inboundAddresses: ['127.0.0.2'] }] });
  assert.deepEqual(await dev.admitSource('127.0.0.2'), { admitted: true, via: 'carrier', carrierSid: 'CRL', accountSid: 'AC9', srtp: 'optional' });
  assert.deepEqual(await dev.admitSource('127.0.0.1'), { admitted: true, via: 'loopback' });
});

test('the carriers are read once per refresh period, and once for concurrent INVITEs', async () => {
  let now = 0;
  let reads = 0;
  let list: CarrierSource[] = [];
  const policy = new InboundPolicy({ mode: 'production', refreshMs: 2000, now: () => now, carriers: async () => (reads++, list) });
  await Promise.all([policy.admitSource('203.0.113.1'), policy.admitSource('203.0.113.2'), policy.admitSource('203.0.113.3')]);
  assert.equal(reads, 1);
  list = carriers;
  now = 1999;
  assert.deepEqual(await policy.admitSource('203.0.113.1'), { admitted: false }, 'a new carrier waits for the refresh');
  now = 2000;
  assert.equal((await policy.admitSource('203.0.113.1')).admitted, true);
  assert.equal(reads, 2);
});

test('isLoopback', () => {
  assert.equal(isLoopback('127.255.0.1'), true);
  assert.equal(isLoopback('::1'), true);
  assert.equal(isLoopback('0:0:0:0:0:0:0:1'), true);
  assert.equal(isLoopback('128.0.0.1'), false);
  assert.equal(isLoopback('::2'), false);
  assert.equal(isLoopback('not-an-ip'), false);
});

test('isTrustedSource (the flood guard\'s exemption): carriers\' addresses once loaded, loopback only in development', async () => {
  let now = 0;
  const prod = new InboundPolicy({ mode: 'production', now: () => now, carriers: async () => carriers });
  assert.equal(prod.isTrustedSource('203.0.113.5'), false, 'not loaded yet: the first call starts the load');
  await new Promise((r) => setImmediate(r));
  assert.equal(prod.isTrustedSource('203.0.113.5'), true);
  assert.equal(prod.isTrustedSource('127.0.0.1'), false);
  assert.equal(prod.isTrustedSource('192.0.2.1'), false);
  const dev = new InboundPolicy({ mode: 'development', carriers: async () => [] });
  assert.equal(dev.isTrustedSource('127.0.0.2'), true);
  void now;
});
