import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MetricsError, MetricsRegistry } from '../../src/api/metrics.js';

describe('MetricsRegistry', () => {
  it('renders counters and gauges in the text format 0.0.4', () => {
    const r = new MetricsRegistry();
    const calls = r.counter('patchbay_calls_total', 'Calls handled', ['direction']);
    const active = r.gauge('patchbay_active_calls', 'Calls in progress');
    calls.inc({ direction: 'inbound' });
    calls.inc({ direction: 'inbound' }, 2);
    calls.labels({ direction: 'outbound-api' }).inc();
    active.set(3);
    active.dec();
    assert.equal(
      r.render(),
      [
        '# HELP patchbay_calls_total Calls handled',
        '# TYPE patchbay_calls_total counter',
        'patchbay_calls_total{direction="inbound"} 3',
        'patchbay_calls_total{direction="outbound-api"} 1',
        '# HELP patchbay_active_calls Calls in progress',
        '# TYPE patchbay_active_calls gauge',
        'patchbay_active_calls 2',
        '',
      ].join('\n'),
    );
    assert.equal(calls.get({ direction: 'inbound' }), 3);
  });

  it('shows an unused unlabelled metric as 0 and a labelled one without samples', () => {
    const r = new MetricsRegistry();
    r.counter('a_total', 'A');
    r.counter('b_total', 'B', ['x']);
    assert.equal(r.render(), '# HELP a_total A\n# TYPE a_total counter\na_total 0\n# HELP b_total B\n# TYPE b_total counter\n');
  });

  it('renders cumulative histogram buckets with +Inf, sum and count', () => {
    const r = new MetricsRegistry();
    const h = r.histogram('webhook_seconds', 'Webhook latency', [0.1, 0.5, 1], ['app']);
    for (const v of [0.05, 0.1, 0.3, 2]) h.observe({ app: 'demo' }, v);
    h.labels({ app: 'other' }).observe(0.7);
    assert.equal(
      r.render(),
      [
        '# HELP webhook_seconds Webhook latency',
        '# TYPE webhook_seconds histogram',
        'webhook_seconds_bucket{app="demo",le="0.1"} 2',
        'webhook_seconds_bucket{app="demo",le="0.5"} 3',
        'webhook_seconds_bucket{app="demo",le="1"} 3',
        'webhook_seconds_bucket{app="demo",le="+Inf"} 4',
        'webhook_seconds_sum{app="demo"} 2.45',
        'webhook_seconds_count{app="demo"} 4',
        'webhook_seconds_bucket{app="other",le="0.1"} 0',
        'webhook_seconds_bucket{app="other",le="0.5"} 0',
        'webhook_seconds_bucket{app="other",le="1"} 1',
        'webhook_seconds_bucket{app="other",le="+Inf"} 1',
        'webhook_seconds_sum{app="other"} 0.7',
        'webhook_seconds_count{app="other"} 1',
        '',
      ].join('\n'),
    );
    const plain = new MetricsRegistry().histogram('t', 'T', [1]);
    plain.observe(5);
    assert.deepEqual(plain.get(), { count: 1, sum: 5 });
  });

  it('escapes label values and help text', () => {
    const r = new MetricsRegistry();
    r.counter('x_total', 'line1\nback\\slash', ['v']).inc({ v: 'a"b\\c\nd' });
    assert.equal(r.render(), '# HELP x_total line1\\nback\\\\slash\n# TYPE x_total counter\nx_total{v="a\\"b\\\\c\\nd"} 1\n');
  });

  it('rejects bad names, wrong labels, decreasing counters and kind clashes', () => {
    const r = new MetricsRegistry();
    const code = (c: string) => (e: unknown) => e instanceof MetricsError && e.code === c;
    assert.throws(() => r.counter('bad-name', 'x'), code('INVALID_NAME'));
    assert.throws(() => r.counter('ok_total', 'x', ['__reserved']), code('INVALID_NAME'));
    assert.throws(() => r.histogram('h', 'x', [1], ['le']), code('INVALID_NAME'));
    assert.throws(() => r.histogram('h2', 'x', []), code('INVALID_VALUE'));
    const c = r.counter('c_total', 'x', ['method']);
    assert.throws(() => c.inc({ methd: 'INVITE' }), code('INVALID_LABELS'));
    assert.throws(() => c.inc(), code('INVALID_LABELS'));
    c.inc({ method: 'INVITE' });
    assert.throws(() => c.inc({ method: 'INVITE', extra: 'x' }), code('INVALID_LABELS'));
    assert.throws(() => c.inc({ method: 'INVITE' }, -1), code('INVALID_VALUE'));
    assert.equal(r.counter('c_total', 'x', ['method']), c, 're-registration returns the same metric');
    assert.throws(() => r.gauge('c_total', 'x', ['method']), code('KIND_MISMATCH'));
    assert.throws(() => r.counter('c_total', 'x', ['other']), code('KIND_MISMATCH'));
  });

  it('runs collectors before rendering', () => {
    const r = new MetricsRegistry();
    const g = r.gauge('live', 'Live things');
    let live = 7;
    r.onCollect(() => g.set(live));
    assert.match(r.render(), /^live 7$/m);
    live = 2;
    assert.match(r.render(), /^live 2$/m);
  });
});
