// Ringback cycles: cadence lengths and on/off layout, frequencies (Goertzel), level, unknown codes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RINGBACK_COUNTRIES, ringbackCycle } from '../../src/media/ringback.js';
import { goertzel, rms } from './rtp-phone.js';

const ms = (n: number): number => n * 8;
/** Peak of a −13 dBm0 sine (0 dBm0 = 3.17 dB below G.711's full-scale sine). */
const PEAK_13 = (32636 / 10 ** (3.17 / 20)) * 10 ** (-13 / 20);

/** Asserts the cycle is tone during each `on` span (ms) and exact silence during each `off` span. */
function assertCadence(cycle: Int16Array, cadenceMs: number[]): void {
  assert.equal(cycle.length, ms(cadenceMs.reduce((a, b) => a + b, 0)));
  let at = 0;
  cadenceMs.forEach((d, i) => {
    const from = ms(at);
    const to = ms(at + d);
    if (i % 2 === 0) assert.ok(rms(cycle, from + 16, to - 16) > 2000, `burst ${i / 2} at ${at} ms is quiet`);
    else assert.ok(cycle.subarray(from, to).every((v) => v === 0), `gap at ${at} ms is not silent`);
    at += d;
  });
}

test('us: 440+480 Hz, 2 s on 4 s off, each tone at −13 dBm0', () => {
  const c = ringbackCycle('us')!;
  assertCadence(c, [2000, 4000]);
  const on = [ms(100), ms(1900)] as const;
  const p440 = goertzel(c, 440, ...on);
  const p480 = goertzel(c, 480, ...on);
  // A sine of amplitude A gives A²/4 in this Goertzel normalisation.
  for (const p of [p440, p480]) assert.ok(Math.abs(Math.sqrt(p * 4) / PEAK_13 - 1) < 0.05, `tone amplitude ${Math.sqrt(p * 4)}`);
  assert.ok(goertzel(c, 350, ...on) < p440 / 1000);
  assert.ok(goertzel(c, 620, ...on) < p440 / 1000);
});

test('uk: 400+450 Hz double ring, 0.4 on 0.2 off 0.4 on 2 s off', () => {
  const c = ringbackCycle('uk')!;
  assertCadence(c, [400, 200, 400, 2000]);
  for (const start of [0, 600]) {
    const on = [ms(start + 20), ms(start + 380)] as const;
    assert.ok(goertzel(c, 400, ...on) > 100 * goertzel(c, 425, ...on));
    assert.ok(goertzel(c, 450, ...on) > 100 * goertzel(c, 425, ...on));
  }
});

test('de: a single 425 Hz tone, 1 s on 4 s off', () => {
  const c = ringbackCycle('de')!;
  assertCadence(c, [1000, 4000]);
  const on = [ms(20), ms(980)] as const;
  const p425 = goertzel(c, 425, ...on);
  assert.ok(Math.abs(Math.sqrt(p425 * 4) / PEAK_13 - 1) < 0.05);
  assert.ok(goertzel(c, 400, ...on) < p425 / 1000 && goertzel(c, 450, ...on) < p425 / 1000);
});

test('jp: 400 Hz modulated by 16 Hz (carrier plus sidebands at 384 and 416 Hz), 1 s on 2 s off', () => {
  const c = ringbackCycle('jp')!;
  assertCadence(c, [1000, 2000]);
  const on = [ms(0), ms(1000)] as const;
  const carrier = goertzel(c, 400, ...on);
  const lower = goertzel(c, 384, ...on);
  const upper = goertzel(c, 416, ...on);
  // AM with depth m puts (m/2)² of the carrier's power in each sideband: about 0.2 for m = 0.9.
  for (const side of [lower, upper]) assert.ok(side / carrier > 0.1 && side / carrier < 0.3, `sideband ratio ${side / carrier}`);
  assert.ok(goertzel(c, 425, ...on) < carrier / 100);
  // Mean power matches a −13 dBm0 sine.
  assert.ok(Math.abs(rms(c, ...on) / (PEAK_13 / Math.SQRT2) - 1) < 0.05, `rms ${rms(c, ...on)}`);
});

test('fr and es: 440 Hz 1.5/3.5 s and 425 Hz 1.5/3 s', () => {
  assertCadence(ringbackCycle('fr')!, [1500, 3500]);
  assertCadence(ringbackCycle('es')!, [1500, 3000]);
  const fr = ringbackCycle('fr')!;
  assert.ok(goertzel(fr, 440, 0, ms(1500)) > 100 * goertzel(fr, 425, 0, ms(1500)));
});

test('every Twilio code has a cycle that fits 16 bits and starts with a ramp, not a click', () => {
  assert.equal(RINGBACK_COUNTRIES.length, 40);
  for (const code of RINGBACK_COUNTRIES) {
    const c = ringbackCycle(code);
    assert.ok(c && c.length > 8000, code);
    assert.ok(c.every((v) => Math.abs(v) < 16000), `${code} clips`);
    assert.ok(Math.abs(c[1]!) < 500, `${code} starts abruptly`);
  }
});

test('unknown codes give null; codes are case-insensitive; callers get their own copy', () => {
  assert.equal(ringbackCycle('xx'), null);
  assert.equal(ringbackCycle(''), null);
  assert.equal(ringbackCycle('toString'), null);
  const a = ringbackCycle('UK')!;
  a.fill(1);
  const b = ringbackCycle('uk')!;
  assert.notEqual(b[0x100], 1);
  assert.equal(b.length, a.length);
});
