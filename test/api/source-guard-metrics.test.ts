import { it } from 'node:test';
import assert from 'node:assert/strict';
import { MetricsRegistry } from '../../src/api/metrics.js';
import { attachSourceGuardMetrics } from '../../src/api/source-guard-metrics.js';
import { SourceGuard } from '../../src/sip/source-guard.js';
import { FakeClock } from '../helpers/fake-clock.js';

function sample(text: string, series: string): number | null {
  const line = text.split('\n').find((l) => l.startsWith(series + ' '));
  return line === undefined ? null : Number(line.slice(series.length + 1));
}

it('renders drops by reason, bans by reason and bans in force; detaching takes its bans out of the gauge', () => {
  const clock = new FakeClock();
  const registry = new MetricsRegistry();
  const guard = new SourceGuard({ clock, requestsPerSecond: 1, burst: 1, rateDropsBeforeBan: 2, banMs: 1000 });
  const detach = attachSourceGuardMetrics(registry, guard);
  let text = registry.render();
  assert.equal(sample(text, 'patchbay_sip_dropped_total{reason="rate"}'), 0);
  assert.equal(sample(text, 'patchbay_sip_bans_active'), 0);

  for (let i = 0; i < 4; i++) guard.admitMessage('192.0.2.1', true); // 1 admitted, 3 drops: banned on the third
  guard.admitMessage('192.0.2.1', true); // dropped as banned
  guard.checkUserAgent('192.0.2.2', 'friendly-scanner');
  text = registry.render();
  assert.equal(sample(text, 'patchbay_sip_dropped_total{reason="rate"}'), 3);
  assert.equal(sample(text, 'patchbay_sip_dropped_total{reason="banned"}'), 1);
  assert.equal(sample(text, 'patchbay_sip_dropped_total{reason="scanner"}'), 1);
  assert.equal(sample(text, 'patchbay_sip_bans_total{reason="rate"}'), 1);
  assert.equal(sample(text, 'patchbay_sip_bans_active'), 1);
  assert.equal(sample(registry.render(), 'patchbay_sip_dropped_total{reason="rate"}'), 3, 'a second scrape adds nothing');

  clock.advance(1000);
  assert.equal(sample(registry.render(), 'patchbay_sip_bans_active'), 0);
  for (let i = 0; i < 4; i++) guard.admitMessage('192.0.2.1', true);
  assert.equal(sample(registry.render(), 'patchbay_sip_bans_active'), 1);
  detach();
  guard.dispose();
  assert.equal(sample(registry.render(), 'patchbay_sip_bans_active'), 0);
});
