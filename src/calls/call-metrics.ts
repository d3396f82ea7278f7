/**
 * Prometheus metrics for the call engine, fed from the call event stream (never from inside a
 * call): calls by final status, live calls, setup time, webhook latency and media clock health.
 * The registry is injected through a small structural interface so `calls/` does not depend on the
 * HTTP layer that renders it.
 */
import type { CallEvent } from '../store/store-types.js';
import type { MediaClock } from '../media/media-clock.js';
import type { Call } from './call.js';
import type { CallRegistry } from './call-registry.js';

type Labels = Readonly<Record<string, string | number>>;

export interface MetricsSink {
  counter(name: string, help: string, labelNames?: readonly string[]): { inc(labels: Labels, value?: number): void };
  gauge(name: string, help: string, labelNames?: readonly string[]): { set(value: number): void };
  histogram(name: string, help: string, buckets?: readonly number[], labelNames?: readonly string[]): { observe(labels: Labels, value: number): void };
  onCollect(fn: () => void): void;
}

export class CallMetrics {
  private readonly ended;
  private readonly setup;
  private readonly webhook;
  private readonly errors;

  constructor(
    private readonly sink: MetricsSink,
    private readonly clock: MediaClock,
  ) {
    this.ended = sink.counter('patchbay_calls_total', 'Calls ended, by direction and final status', ['direction', 'status']);
    this.setup = sink.histogram('patchbay_call_answer_seconds', 'INVITE received to 200 OK sent', [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], ['direction']);
    this.webhook = sink.histogram('patchbay_webhook_seconds', 'Application document fetches, by outcome', [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 15], ['outcome']);
    this.errors = sink.counter('patchbay_call_errors_total', 'Errors recorded on calls, by Twilio error code', ['code']);
  }

  attach(registry: CallRegistry): void {
    const live = this.sink.gauge('patchbay_calls_live', 'Calls in progress (any state before the end)');
    const ticks = this.sink.gauge('patchbay_media_clock_ticks', 'Media clock ticks since start');
    const late = this.sink.gauge('patchbay_media_clock_late_ticks', 'Media clock ticks that ran more than 5 ms late');
    const skipped = this.sink.gauge('patchbay_media_clock_skipped_ticks', 'Media clock ticks skipped because the process fell behind');
    const maxLate = this.sink.gauge('patchbay_media_clock_max_lateness_ms', 'Worst media clock lateness seen (ms)');
    this.sink.onCollect(() => {
      live.set(registry.size);
      ticks.set(this.clock.stats.ticks);
      late.set(this.clock.stats.lateTicks);
      skipped.set(this.clock.stats.skipped);
      maxLate.set(this.clock.stats.maxLatenessMs);
    });
    registry.on('call', (call: Call) => this.track(call));
  }

  private track(call: Call): void {
    const direction = call.info.direction;
    call.on('event', (e: CallEvent) => {
      if (e.type === 'webhook') this.webhook.observe({ outcome: e.detail.ok ? 'ok' : 'error' }, Number(e.detail.latencyMs) / 1000);
      else if (e.type === 'error' && typeof e.detail.code === 'number') this.errors.inc({ code: e.detail.code });
    });
    call.on('status', (status: string) => {
      if (status === 'in-progress' && call.answerTime) this.setup.observe({ direction }, (call.answerTime.getTime() - call.startTime.getTime()) / 1000);
    });
    call.once('ended', () => this.ended.inc({ direction, status: call.state }));
  }
}
