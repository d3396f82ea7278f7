import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SourceGuard, sourceKey, type BanEvent, type SourceGuardOptions, type UnbanEvent } from '../../src/sip/source-guard.js';
import { CidrError, CidrList, parseCidr } from '../../src/sip/cidr-list.js';
import { FakeClock } from '../helpers/fake-clock.js';

function guard(opts: SourceGuardOptions = {}) {
  const clock = new FakeClock();
  const g = new SourceGuard({ clock, ...opts });
  const bans: BanEvent[] = [];
  const unbans: UnbanEvent[] = [];
  g.on('ban', (e) => bans.push(e));
  g.on('unban', (e) => unbans.push(e));
  return { g, clock, bans, unbans };
}

/** How many of `n` requests sent at once are admitted. */
function burst(g: SourceGuard, host: string, n: number): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (g.admitMessage(host, true)) ok++;
  return ok;
}

describe('SourceGuard token bucket', () => {
  it('admits the burst at once, then the rate; drops the rest and counts them', () => {
    const { g, clock } = guard({ requestsPerSecond: 10, burst: 20, rateDropsBeforeBan: 1000 });
    assert.equal(burst(g, '192.0.2.1', 30), 20);
    assert.equal(g.stats.dropped.rate, 10);
    clock.advance(500); // half a second refills 5 tokens
    assert.equal(burst(g, '192.0.2.1', 10), 5);
    clock.advance(100_000); // refills up to the burst, no further
    assert.equal(burst(g, '192.0.2.1', 30), 20);
  });

  it('limits each source on its own', () => {
    const { g } = guard({ requestsPerSecond: 1, burst: 2 });
    assert.equal(burst(g, '192.0.2.1', 5), 2);
    assert.equal(burst(g, '192.0.2.2', 5), 2);
  });

  it('never takes tokens for responses', () => {
    const { g } = guard({ requestsPerSecond: 1, burst: 1 });
    for (let i = 0; i < 50; i++) assert.equal(g.admitMessage('192.0.2.1', false), true);
    assert.equal(g.admitMessage('192.0.2.1', true), true);
    assert.equal(g.admitMessage('192.0.2.1', true), false);
  });
});

describe('SourceGuard bans', () => {
  it('bans a source whose drops exceed the threshold in the window, drops it entirely, and releases it after the ban time', () => {
    const { g, clock, bans, unbans } = guard({ requestsPerSecond: 10, burst: 10, rateDropsBeforeBan: 5, banMs: 2000 });
    burst(g, '192.0.2.9', 15); // 10 admitted, 5 drops: at the threshold, not over it
    assert.equal(bans.length, 0);
    assert.equal(g.admitMessage('192.0.2.9', true), false); // sixth drop
    assert.deepEqual(bans, [{ source: '192.0.2.9', reason: 'rate', until: 2000, renewed: false }]);
    assert.equal(g.isBanned('192.0.2.9'), true);
    clock.advance(1500); // the bucket would have refilled, but the source is banned
    assert.equal(g.admitMessage('192.0.2.9', true), false);
    assert.equal(g.admitMessage('192.0.2.9', false), false, 'responses from a banned source are dropped too');
    assert.equal(g.stats.dropped.banned, 2);
    assert.equal(g.stats.bansActive, 1);
    assert.equal(g.admitMessage('192.0.2.10', true), true, 'other sources are not affected');
    clock.advance(500);
    assert.deepEqual(unbans, [{ source: '192.0.2.9', reason: 'expired' }]);
    assert.equal(g.isBanned('192.0.2.9'), false);
    assert.equal(g.admitMessage('192.0.2.9', true), true, 'released with a full bucket');
    assert.equal(g.stats.bansActive, 0);
    assert.deepEqual(g.stats.bansTotal, { rate: 1, scanner: 0, 'auth-failures': 0 });
    assert.equal(clock.pending, 0, 'no timer left once no ban is active');
  });

  it('drops spread over more than the window do not ban', () => {
    const { g, clock, bans } = guard({ requestsPerSecond: 1, burst: 1, rateDropsBeforeBan: 3, windowMs: 1000 });
    for (let i = 0; i < 10; i++) {
      burst(g, '192.0.2.1', 3); // at most 2 drops each time
      clock.advance(1001);
    }
    assert.equal(bans.length, 0);
    assert.ok(g.stats.dropped.rate >= 10);
  });

  it('renews the ban of a source still flooding when it ends, and releases it once it has stopped', () => {
    const { g, clock, bans, unbans } = guard({ requestsPerSecond: 10, burst: 10, rateDropsBeforeBan: 0, banMs: 2000 });
    burst(g, '192.0.2.9', 11);
    assert.equal(bans.length, 1);
    for (let t = 0; t < 2000; t += 10) {
      clock.advance(10);
      burst(g, '192.0.2.9', 1); // 100/s, ten times the limit
    }
    assert.equal(bans.length, 2);
    assert.deepEqual(bans[1], { source: '192.0.2.9', reason: 'rate', until: 4000, renewed: true });
    assert.equal(unbans.length, 0);
    assert.equal(g.admitMessage('192.0.2.9', true), false);
    clock.advance(2000); // quiet since 2000
    assert.deepEqual(unbans, [{ source: '192.0.2.9', reason: 'expired' }]);
    assert.equal(g.admitMessage('192.0.2.9', true), true);
  });

  it('a banned source sending below its rate is released on time', () => {
    const { g, clock, bans, unbans } = guard({ requestsPerSecond: 10, burst: 10, rateDropsBeforeBan: 0, banMs: 2000 });
    burst(g, '192.0.2.9', 11);
    for (let t = 0; t < 2000; t += 500) {
      clock.advance(500);
      g.admitMessage('192.0.2.9', true); // 2/s: a phone retrying its REGISTER
    }
    assert.equal(bans.length, 1);
    assert.equal(unbans.length, 1);
  });

  it('bans after more than M failed authentications in the sliding window, and only then', () => {
    const { g, clock, bans } = guard({ authFailuresBeforeBan: 3, authFailureWindowMs: 60_000, banMs: 1000 });
    g.reportAuthFailure('198.51.100.7');
    clock.advance(30_000);
    g.reportAuthFailure('198.51.100.7');
    g.reportAuthFailure('198.51.100.7');
    clock.advance(30_001); // the first failure leaves the window
    g.reportAuthFailure('198.51.100.7');
    assert.equal(bans.length, 0);
    g.reportAuthFailure('198.51.100.7');
    assert.equal(bans.length, 1);
    assert.equal(bans[0]!.reason, 'auth-failures');
    assert.equal(g.admitMessage('198.51.100.7', true), false);
    clock.advance(1000);
    assert.equal(g.admitMessage('198.51.100.7', true), true);
  });
});

describe('SourceGuard scanners', () => {
  it('drops scanner User-Agents case-insensitively and bans after the threshold', () => {
    const { g, bans } = guard({ scannerRequestsBeforeBan: 2 });
    assert.equal(g.checkUserAgent('203.0.113.5', 'Linphone/5.2'), true);
    assert.equal(g.checkUserAgent('203.0.113.5', undefined), true);
    assert.equal(g.checkUserAgent('203.0.113.5', 'friendly-scanner'), false);
    assert.equal(g.checkUserAgent('203.0.113.5', 'SIPVicious 0.3'), false);
    assert.equal(bans.length, 0);
    assert.equal(g.checkUserAgent('203.0.113.5', 'Mozilla/5.0 sipcli/v1.8'), false);
    assert.equal(bans.length, 1);
    assert.equal(bans[0]!.reason, 'scanner');
    assert.equal(g.stats.dropped.scanner, 3);
    assert.equal(g.admitMessage('203.0.113.5', true), false);
  });

  it('takes a custom list', () => {
    const { g } = guard({ scannerUserAgents: ['EvilBot'] });
    assert.equal(g.checkUserAgent('203.0.113.5', 'friendly-scanner'), true);
    assert.equal(g.checkUserAgent('203.0.113.5', 'x-evilbot-1'), false);
  });
});

describe('SourceGuard trusted sources and connections', () => {
  it('never limits a source the isTrusted callback vouches for (a carrier\'s address), and limits the others', () => {
    const { g, bans } = guard({ requestsPerSecond: 1, burst: 1, rateDropsBeforeBan: 0, authFailuresBeforeBan: 0, isTrusted: (h) => h === '192.0.2.9' });
    assert.equal(burst(g, '192.0.2.9', 50), 50);
    g.reportAuthFailure('192.0.2.9');
    assert.equal(g.checkUserAgent('192.0.2.9', 'friendly-scanner'), true);
    assert.equal(bans.length, 0);
    assert.equal(burst(g, '192.0.2.10', 5), 1);
    assert.equal(bans.length, 1);
  });

  it('never limits trusted blocks (IPv4, IPv4-mapped and IPv6)', () => {
    const { g, bans } = guard({ requestsPerSecond: 1, burst: 1, rateDropsBeforeBan: 0, authFailuresBeforeBan: 0, trusted: ['10.0.0.0/8', '2001:db8::/32'] });
    assert.equal(burst(g, '10.1.2.3', 100), 100);
    assert.equal(burst(g, '::ffff:10.1.2.3', 100), 100);
    assert.equal(burst(g, '2001:db8::5', 100), 100);
    assert.equal(g.checkUserAgent('10.1.2.3', 'friendly-scanner'), true);
    g.reportAuthFailure('10.1.2.3');
    assert.equal(g.admitConnection('10.1.2.3', 1_000_000), true);
    assert.equal(bans.length, 0);
    assert.equal(burst(g, '11.0.0.1', 3), 1, 'an address outside the blocks is limited');
  });

  it('caps connections per source and refuses any from a banned source', () => {
    const { g } = guard({ maxConnectionsPerSource: 2, authFailuresBeforeBan: 0 });
    assert.equal(g.admitConnection('192.0.2.1', 0), true);
    assert.equal(g.admitConnection('192.0.2.1', 1), true);
    assert.equal(g.admitConnection('192.0.2.1', 2), false);
    assert.equal(g.stats.dropped.connections, 1);
    g.reportAuthFailure('192.0.2.2');
    assert.equal(g.admitConnection('192.0.2.2', 0), false);
    assert.equal(g.stats.dropped.banned, 1);
  });

  it('limits IPv6 sources per /64 and IPv4-mapped sources as IPv4', () => {
    assert.equal(sourceKey('2001:db8:0:1::5'), '2001:db8:0:1::/64');
    assert.equal(sourceKey('2001:0db8:0000:0001:ffff:1:2:3'), '2001:db8:0:1::/64');
    assert.equal(sourceKey('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(sourceKey('192.0.2.1'), '192.0.2.1');
    const { g } = guard({ requestsPerSecond: 1, burst: 2 });
    assert.equal(g.admitMessage('2001:db8:0:1::1', true), true);
    assert.equal(g.admitMessage('2001:db8:0:1::2', true), true);
    assert.equal(g.admitMessage('2001:db8:0:1::3', true), false, 'same /64, same bucket');
    assert.equal(g.admitMessage('2001:db8:0:2::1', true), true);
  });

  it('parses CIDR blocks and refuses malformed ones with a code', () => {
    assert.deepEqual(parseCidr('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    assert.deepEqual(parseCidr('::1'), { address: '::1', prefix: 128, family: 'ipv6' });
    for (const bad of ['10.0.0.0/33', 'example.com', '10.0.0.0/', '::/129']) {
      assert.throws(() => parseCidr(bad), (e: unknown) => e instanceof CidrError && e.code === 'SIP_BAD_CIDR', bad);
    }
    const list = new CidrList(['192.0.2.0/24']);
    assert.equal(list.contains('192.0.2.200'), true);
    assert.equal(list.contains('192.0.3.1'), false);
    assert.equal(list.contains('not-an-ip'), false);
  });
});

describe('SourceGuard memory bounds', () => {
  it('caps the table by evicting the least recently seen source', () => {
    const { g } = guard({ requestsPerSecond: 1, burst: 1, maxSources: 3 });
    for (const h of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) assert.equal(g.admitMessage(h, true), true);
    assert.equal(g.admitMessage('192.0.2.1', true), false); // .1 is now the most recently seen
    assert.equal(g.admitMessage('192.0.2.4', true), true); // evicts .2, the least recently seen
    assert.equal(g.stats.trackedSources, 3);
    assert.equal(g.admitMessage('192.0.2.1', true), false, '.1 kept its empty bucket');
    assert.equal(g.admitMessage('192.0.2.3', true), false, '.3 kept its empty bucket');
    assert.equal(g.admitMessage('192.0.2.2', true), true, '.2 was forgotten: it starts with a full bucket');
  });

  it('forgets idle sources', () => {
    const { g, clock } = guard({ requestsPerSecond: 1, burst: 1, windowMs: 1000, authFailureWindowMs: 1000 });
    for (let i = 0; i < 10; i++) g.admitMessage(`192.0.2.${i}`, true);
    assert.equal(g.stats.trackedSources, 10);
    clock.advance(1001);
    g.admitMessage('192.0.2.100', true);
    assert.equal(g.stats.trackedSources, 1);
  });

  it('caps bans by lifting the oldest, and a ban removes the source from the table', () => {
    const { g, unbans } = guard({ authFailuresBeforeBan: 0, maxBans: 2 });
    for (const h of ['192.0.2.1', '192.0.2.2', '192.0.2.3']) g.reportAuthFailure(h);
    assert.equal(g.stats.bansActive, 2);
    assert.equal(g.stats.trackedSources, 0);
    assert.deepEqual(unbans, [{ source: '192.0.2.1', reason: 'evicted' }]);
    assert.deepEqual(g.bannedSources().map((b) => b.source), ['192.0.2.2', '192.0.2.3']);
    assert.equal(g.unban('192.0.2.2'), true);
    assert.equal(g.unban('192.0.2.2'), false);
    assert.equal(g.isBanned('192.0.2.2'), false);
  });

  it('dispose stops the timer', () => {
    const { g, clock } = guard({ authFailuresBeforeBan: 0 });
    g.reportAuthFailure('192.0.2.1');
    assert.equal(clock.pending, 1);
    g.dispose();
    assert.equal(clock.pending, 0);
  });
});
