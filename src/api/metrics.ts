/**
 * A small Prometheus metrics registry: counters, gauges and histograms with declared label names,
 * rendered in the text exposition format 0.0.4 for `GET /metrics`. No dependency: the format is
 * simple and the hot paths (RTP, SIP) need a cheap `inc()` — bind labels once with `labels()` and
 * keep the child, which increments a number without building any key.
 *
 *   const sent = metrics.counter('patchbay_sip_requests_total', 'SIP requests sent', ['method']);
 *   const invites = sent.labels({ method: 'INVITE' }); invites.inc();
 *   metrics.histogram('patchbay_webhook_seconds', 'Webhook latency', [0.05, 0.1, 0.5, 1]).observe(0.2);
 */

export type Labels = Readonly<Record<string, string | number>>;
export type MetricKind = 'counter' | 'gauge' | 'histogram';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
export const DEFAULT_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export class MetricsError extends Error {
  override readonly name = 'MetricsError';
  constructor(
    readonly code: 'INVALID_NAME' | 'INVALID_LABELS' | 'INVALID_VALUE' | 'KIND_MISMATCH',
    message: string,
  ) {
    super(message);
  }
}

function formatValue(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Number.isNaN(v)) return 'NaN';
  return String(v);
}

function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

interface Series<S> {
  /** Rendered label pairs without braces, e.g. `method="INVITE"`; '' when unlabelled. */
  readonly labelText: string;
  readonly state: S;
}

abstract class Metric<S> {
  protected readonly series = new Map<string, Series<S>>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {
    if (!NAME_RE.test(name)) throw new MetricsError('INVALID_NAME', `invalid metric name "${name}"`);
    for (const l of labelNames) {
      if (!LABEL_RE.test(l) || l.startsWith('__')) throw new MetricsError('INVALID_NAME', `invalid label name "${l}" on ${name}`);
    }
    if (new Set(labelNames).size !== labelNames.length) throw new MetricsError('INVALID_NAME', `duplicate label names on ${name}`);
  }

  abstract readonly kind: MetricKind;
  protected abstract initialState(): S;
  protected abstract renderSeries(s: Series<S>, out: string[]): void;

  /** The series for a label set; label names must be exactly the declared ones. */
  protected seriesFor(labels: Labels): Series<S> {
    const keys = Object.keys(labels);
    const wrong = (): MetricsError =>
      new MetricsError('INVALID_LABELS', `${this.name} takes labels [${this.labelNames.join(', ')}], got [${keys.join(', ')}]`);
    if (keys.length !== this.labelNames.length) throw wrong();
    // Repeat label sets hit the map directly; names are checked when a series is first made.
    const key = keys.length === 0 ? '' : this.labelNames.map((n) => String(labels[n])).join('\u0000');
    const found = this.series.get(key);
    if (found) return found;
    if (!keys.every((k) => this.labelNames.includes(k))) throw wrong();
    const labelText = this.labelNames.map((n) => `${n}="${escapeLabelValue(String(labels[n]))}"`).join(',');
    const s: Series<S> = { labelText, state: this.initialState() };
    this.series.set(key, s);
    return s;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.kind}`);
    // An unlabelled metric is scraped as 0 before its first use rather than missing.
    if (this.series.size === 0 && this.labelNames.length === 0) this.seriesFor({});
    for (const s of this.series.values()) this.renderSeries(s, out);
  }

  /** Drops every series (tests). */
  reset(): void {
    this.series.clear();
  }
}

function splitArgs(a?: Labels | number, b?: number, fallback = 1): [Labels, number] {
  return typeof a === 'number' ? [{}, a] : [a ?? {}, b ?? fallback];
}

function sample(name: string, labelText: string, value: number): string {
  return labelText ? `${name}{${labelText}} ${formatValue(value)}` : `${name} ${formatValue(value)}`;
}

interface NumberState {
  value: number;
}

export class Counter extends Metric<NumberState> {
  readonly kind = 'counter';
  protected initialState(): NumberState {
    return { value: 0 };
  }
  protected renderSeries(s: Series<NumberState>, out: string[]): void {
    out.push(sample(this.name, s.labelText, s.state.value));
  }
  inc(value?: number): void;
  inc(labels: Labels, value?: number): void;
  inc(a?: Labels | number, b?: number): void {
    const [labels, v] = splitArgs(a, b);
    addToCounter(this.name, this.seriesFor(labels).state, v);
  }
  get(labels: Labels = {}): number {
    return this.seriesFor(labels).state.value;
  }
  /** A handle bound to one label set, for hot paths. */
  labels(labels: Labels): { inc(value?: number): void } {
    const state = this.seriesFor(labels).state;
    return { inc: (v = 1) => addToCounter(this.name, state, v) };
  }
}

function addToCounter(name: string, state: NumberState, v: number): void {
  if (!(v >= 0)) throw new MetricsError('INVALID_VALUE', `counter ${name} can only increase (got ${v})`);
  state.value += v;
}

export class Gauge extends Metric<NumberState> {
  readonly kind = 'gauge';
  protected initialState(): NumberState {
    return { value: 0 };
  }
  protected renderSeries(s: Series<NumberState>, out: string[]): void {
    out.push(sample(this.name, s.labelText, s.state.value));
  }
  set(value: number): void;
  set(labels: Labels, value: number): void;
  set(a: Labels | number, b?: number): void {
    const [labels, v] = splitArgs(a, b, NaN);
    this.seriesFor(labels).state.value = v;
  }
  inc(value?: number): void;
  inc(labels: Labels, value?: number): void;
  inc(a?: Labels | number, b?: number): void {
    const [labels, v] = splitArgs(a, b);
    this.seriesFor(labels).state.value += v;
  }
  dec(value?: number): void;
  dec(labels: Labels, value?: number): void;
  dec(a?: Labels | number, b?: number): void {
    const [labels, v] = splitArgs(a, b);
    this.seriesFor(labels).state.value -= v;
  }
  get(labels: Labels = {}): number {
    return this.seriesFor(labels).state.value;
  }
  labels(labels: Labels): { set(v: number): void; inc(v?: number): void; dec(v?: number): void } {
    const state = this.seriesFor(labels).state;
    return { set: (v) => void (state.value = v), inc: (v = 1) => void (state.value += v), dec: (v = 1) => void (state.value -= v) };
  }
}

interface HistogramState {
  /** Per-bucket (non-cumulative) counts; the last slot is +Inf. */
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Metric<HistogramState> {
  readonly kind = 'histogram';
  readonly buckets: readonly number[];

  constructor(name: string, help: string, buckets: readonly number[], labelNames: readonly string[]) {
    const sorted = [...buckets].sort((x, y) => x - y);
    if (sorted.length === 0 || sorted.some((b, i) => !Number.isFinite(b) || (i > 0 && b === sorted[i - 1]))) {
      throw new MetricsError('INVALID_VALUE', `histogram ${name} needs distinct finite buckets`);
    }
    if (labelNames.includes('le')) throw new MetricsError('INVALID_NAME', `histogram ${name} cannot use the label "le"`);
    super(name, help, labelNames);
    this.buckets = sorted;
  }

  protected initialState(): HistogramState {
    return { counts: new Array<number>(this.buckets.length + 1).fill(0), sum: 0, count: 0 };
  }

  protected renderSeries(s: Series<HistogramState>, out: string[]): void {
    const sep = s.labelText ? ',' : '';
    let cumulative = 0;
    for (let i = 0; i <= this.buckets.length; i++) {
      cumulative += s.state.counts[i]!;
      const le = i < this.buckets.length ? formatValue(this.buckets[i]!) : '+Inf';
      out.push(`${this.name}_bucket{${s.labelText}${sep}le="${le}"} ${cumulative}`);
    }
    out.push(sample(`${this.name}_sum`, s.labelText, s.state.sum), sample(`${this.name}_count`, s.labelText, s.state.count));
  }

  observe(value: number): void;
  observe(labels: Labels, value: number): void;
  observe(a: Labels | number, b?: number): void {
    const [labels, v] = splitArgs(a, b, NaN);
    observeInto(this.buckets, this.seriesFor(labels).state, v);
  }

  labels(labels: Labels): { observe(v: number): void } {
    const state = this.seriesFor(labels).state;
    return { observe: (v) => observeInto(this.buckets, state, v) };
  }

  /** Count and sum for one label set (tests, logs). */
  get(labels: Labels = {}): { count: number; sum: number } {
    const s = this.seriesFor(labels).state;
    return { count: s.count, sum: s.sum };
  }
}

function observeInto(buckets: readonly number[], s: HistogramState, v: number): void {
  if (Number.isNaN(v)) throw new MetricsError('INVALID_VALUE', 'cannot observe NaN');
  let i = 0;
  while (i < buckets.length && v > buckets[i]!) i++;
  s.counts[i]!++;
  s.sum += v;
  s.count++;
}

export class MetricsRegistry {
  private readonly metrics = new Map<string, Counter | Gauge | Histogram>();
  private readonly collectors: (() => void)[] = [];

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.register(name, 'counter', labelNames, () => new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.register(name, 'gauge', labelNames, () => new Gauge(name, help, labelNames));
  }

  histogram(name: string, help: string, buckets: readonly number[] = DEFAULT_BUCKETS, labelNames: readonly string[] = []): Histogram {
    return this.register(name, 'histogram', labelNames, () => new Histogram(name, help, buckets, labelNames));
  }

  /** Runs `fn` before every render, e.g. to set a gauge from live state (active calls). */
  onCollect(fn: () => void): void {
    this.collectors.push(fn);
  }

  /** The whole registry in the Prometheus text format 0.0.4 (ends with a newline). */
  render(): string {
    for (const fn of this.collectors) fn();
    const out: string[] = [];
    for (const m of this.metrics.values()) m.render(out);
    return out.length ? out.join('\n') + '\n' : '';
  }

  /**
   * Registering the same name twice returns the first metric (modules may be instantiated more
   * than once, e.g. in tests) as long as kind and labels agree.
   */
  private register<M extends Counter | Gauge | Histogram>(name: string, kind: MetricKind, labelNames: readonly string[], make: () => M): M {
    const existing = this.metrics.get(name);
    if (existing) {
      if (existing.kind !== kind || existing.labelNames.join(',') !== labelNames.join(',')) {
        throw new MetricsError('KIND_MISMATCH', `metric ${name} already registered as ${existing.kind} [${existing.labelNames.join(', ')}]`);
      }
      return existing as M;
    }
    const m = make();
    this.metrics.set(name, m);
    return m;
  }
}

/** The process-wide registry that `/metrics` renders. */
export const metrics = new MetricsRegistry();
