/**
 * Prometheus metrics for the SIP edge's SourceGuard: messages and connections dropped unanswered
 * (by reason), bans (by reason, renewals included) and bans in force. Drops are far too frequent
 * during a flood for one event each, so they are read from the guard's counters at scrape time;
 * bans are counted from its events. Several servers in one process (tests) add up.
 */
import type { DropReason, SourceGuard } from '../sip/source-guard.js';
import type { MetricsRegistry } from './metrics.js';

const DROP_REASONS: readonly DropReason[] = ['banned', 'rate', 'scanner', 'connections'];

/** Starts feeding `registry` from `guard`; the returned function stops it (call before disposing the guard). */
export function attachSourceGuardMetrics(registry: MetricsRegistry, guard: SourceGuard): () => void {
  const dropped = registry.counter('patchbay_sip_dropped_total', 'SIP requests, datagrams and TCP connections dropped without an answer by the source guard', ['reason']);
  const bans = registry.counter('patchbay_sip_bans_total', 'Sources banned (flood, scanner, failed authentications), renewals included', ['reason']);
  const active = registry.gauge('patchbay_sip_bans_active', 'Sources banned now');
  for (const reason of DROP_REASONS) dropped.inc({ reason }, 0); // scraped as 0 before the first drop

  let last = guard.stats.dropped;
  let attached = true;
  const collect = (): void => {
    if (!attached) return;
    const now = guard.stats.dropped;
    for (const reason of DROP_REASONS) {
      const delta = now[reason] - last[reason];
      if (delta > 0) dropped.inc({ reason }, delta);
    }
    last = now;
  };
  const onBan = (e: { reason: string; renewed: boolean }): void => {
    bans.inc({ reason: e.reason });
    if (!e.renewed) active.inc();
  };
  const onUnban = (): void => active.dec();
  registry.onCollect(collect);
  guard.on('ban', onBan).on('unban', onUnban);
  return () => {
    collect();
    attached = false;
    guard.off('ban', onBan).off('unban', onUnban);
    active.dec(guard.stats.bansActive);
  };
}
