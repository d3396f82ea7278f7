/** Outgoing RFC 4733 digits: one packet per tick in place of audio, queued digits in order, clear(). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TelephoneEventOutput } from '../../src/media/telephone-event-output.js';
import { TelephoneEventReceiver } from '../../src/media/dtmf-rfc4733.js';

describe('TelephoneEventOutput', () => {
  it('sends queued digits one packet per tick, each event at the tick timestamp it started on', async () => {
    const out = new TelephoneEventOutput(20);
    const sent: boolean[] = [];
    const one = out.enqueue('1', 100).then((s) => sent.push(s));
    const two = out.enqueue('#', 100).then((s) => sent.push(s));
    const receiver = new TelephoneEventReceiver();
    const digits: string[] = [];
    const starts: number[] = [];
    for (let tick = 0; out.busy; tick++) {
      const packet = out.next(1000 + tick * 160);
      assert.ok(packet);
      if (packet.marker) starts.push(packet.timestamp);
      for (const d of receiver.push(packet.timestamp, packet.marker, packet.payload)) digits.push(`${d.digit}:${d.durationMs}`);
    }
    await Promise.all([one, two]);
    assert.deepEqual(digits, ['1:100', '#:100']);
    assert.deepEqual(sent, [true, true]);
    // 4 updates + 3 end packets for 100 ms at 20 ms: the second digit starts on the 8th tick.
    assert.deepEqual(starts, [1000, 1000 + 7 * 160]);
    assert.equal(out.next(99_999), null);
  });

  it('clear() drops queued and in-progress digits and resolves them false', async () => {
    const out = new TelephoneEventOutput(20);
    const a = out.enqueue('5', 100);
    const b = out.enqueue('6', 100);
    out.next(0);
    out.clear();
    assert.deepEqual(await Promise.all([a, b]), [false, false]);
    assert.equal(out.busy, false);
  });

  it('refuses a non-DTMF character at once', () => {
    assert.throws(() => new TelephoneEventOutput(20).enqueue('x', 100), { code: 'DTMF_BAD_DIGIT' });
  });
});
