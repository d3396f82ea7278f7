import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AccountCallLimits } from '../../src/calls/account-call-limits.js';
import { CallRegistry } from '../../src/calls/call-registry.js';
import type { Call } from '../../src/calls/call.js';
import { FakeClock } from '../helpers/fake-clock.js';

/** A registry entry for `accountSid` that stays live until `end()` (the registry only needs these two members). */
function liveCall(registry: CallRegistry, accountSid: string, sid: string): { end(): Promise<void> } {
  let end!: () => void;
  const ended = new Promise<void>((resolve) => (end = resolve));
  registry.add({ sid, info: { accountSid }, whenEnded: () => ended } as unknown as Call);
  return {
    async end() {
      end();
      await ended;
      await new Promise((r) => setImmediate(r));
    },
  };
}

describe('AccountCallLimits', () => {
  it("refuses an account's call at its live-call cap while another account is still admitted", async () => {
    const registry = new CallRegistry();
    const limits = new AccountCallLimits({ maxLiveCalls: 2, callsPerSecond: 0, clock: new FakeClock() }, registry);
    const a1 = liveCall(registry, 'ACa', 'CA1');
    liveCall(registry, 'ACa', 'CA2');
    assert.deepEqual(limits.admitInbound('ACa'), { admitted: false, limit: 'account-calls' });
    assert.deepEqual(limits.admitInbound('ACb'), { admitted: true });
    await a1.end();
    assert.equal(limits.liveCalls('ACa'), 1);
    assert.deepEqual(limits.admitInbound('ACa'), { admitted: true });
  });

  it('admits a burst of two seconds worth, then the steady rate, per account', () => {
    const clock = new FakeClock();
    const limits = new AccountCallLimits({ maxLiveCalls: 0, callsPerSecond: 3, clock }, new CallRegistry());
    let admitted = 0;
    for (let i = 0; i < 10; i++) if (limits.admitInbound('ACa').admitted) admitted++;
    assert.equal(admitted, 6, 'burst = 2 s × 3/s');
    assert.deepEqual(limits.admitInbound('ACa'), { admitted: false, limit: 'account-rate' });
    // Another account has its own bucket.
    assert.ok(limits.admitInbound('ACb').admitted);
    clock.advance(1000);
    admitted = 0;
    for (let i = 0; i < 10; i++) if (limits.admitInbound('ACa').admitted) admitted++;
    assert.equal(admitted, 3, 'one second refills three');
  });

  it('a call refused at the cap takes no token, and 0 means no limit', async () => {
    const clock = new FakeClock();
    const registry = new CallRegistry();
    const limits = new AccountCallLimits({ maxLiveCalls: 1, callsPerSecond: 1, clock }, registry);
    const live = liveCall(registry, 'ACa', 'CA1');
    for (let i = 0; i < 5; i++) assert.deepEqual(limits.admitInbound('ACa'), { admitted: false, limit: 'account-calls' });
    await live.end();
    // The whole burst (2 s × 1/s) is still there: the five refusals took nothing.
    assert.ok(limits.admitInbound('ACa').admitted);
    assert.ok(limits.admitInbound('ACa').admitted);
    assert.deepEqual(limits.admitInbound('ACa'), { admitted: false, limit: 'account-rate' });
    const open = new AccountCallLimits({ maxLiveCalls: 0, callsPerSecond: 0, clock }, registry);
    for (let i = 0; i < 1000; i++) assert.ok(open.admitInbound('ACa').admitted);
  });

  it('forgets idle accounts, whose buckets are full again', () => {
    const clock = new FakeClock();
    const limits = new AccountCallLimits({ maxLiveCalls: 0, callsPerSecond: 1, clock }, new CallRegistry());
    assert.ok(limits.admitInbound('ACa').admitted);
    assert.ok(limits.admitInbound('ACa').admitted);
    assert.equal(limits.admitInbound('ACa').admitted, false);
    clock.advance(120_000);
    assert.ok(limits.admitInbound('ACb').admitted); // sweeps ACa's bucket
    assert.ok(limits.admitInbound('ACa').admitted);
    assert.ok(limits.admitInbound('ACa').admitted);
    assert.equal(limits.admitInbound('ACa').admitted, false);
  });
});
