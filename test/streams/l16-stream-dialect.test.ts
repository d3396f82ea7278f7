import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { L16StreamDialect } from '../../src/streams/l16-stream-dialect.js';
import type { StreamStartInfo } from '../../src/streams/stream-dialect.js';

const info = (tracks: StreamStartInfo['tracks']): StreamStartInfo => ({ streamSid: 'MZ1', accountSid: 'AC1', callSid: 'CA1', tracks, customParameters: [['k', 'v']] });

function tone(hz: number, n: number, rate: number): Int16Array {
  return Int16Array.from({ length: n }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / rate)));
}

function crossingsHz(samples: Int16Array, rate: number): number {
  let c = 0;
  for (let i = 1; i < samples.length; i++) if ((samples[i - 1]! < 0) !== (samples[i]! < 0)) c++;
  return (c / 2) * (rate / samples.length);
}

describe('L16StreamDialect', () => {
  it('opens with a JSON start naming the format, then sends exactly 20 ms frames at the stream rate', () => {
    const d = new L16StreamDialect(info(['inbound']), 16000);
    assert.deepEqual(JSON.parse(d.opening()[0] as string), {
      event: 'start', streamSid: 'MZ1', accountSid: 'AC1', callSid: 'CA1', tracks: ['inbound'], customParameters: { k: 'v' },
      mediaFormat: { encoding: 'audio/l16', sampleRate: 16000, channels: 1 },
    });
    const caller = tone(1000, 8000, 8000);
    const out: Buffer[] = [];
    for (let i = 0; i < caller.length; i += 160) {
      const pcm = caller.subarray(i, i + 160);
      out.push(...(d.audio(i / 8, { pcm, ulaw: new Uint8Array(160) }, null) as Buffer[]));
    }
    assert.ok(out.length >= 49 && out.every((f) => f.length === 640));
    const all = new Int16Array(out.length * 320);
    out.forEach((f, k) => all.set(new Int16Array(f.buffer.slice(f.byteOffset, f.byteOffset + f.length)), k * 320));
    assert.ok(Math.abs(crossingsHz(all.subarray(320), 16000) - 1000) < 10);
  });

  it('interleaves both tracks as stereo: channel 0 the caller, channel 1 what the caller heard', () => {
    const d = new L16StreamDialect(info(['inbound', 'outbound']), 8000);
    assert.equal(JSON.parse(d.opening()[0] as string).mediaFormat.channels, 2);
    const inbound = Int16Array.from({ length: 160 }, () => 1000);
    const outbound = Int16Array.from({ length: 160 }, () => -2000);
    const [frame] = d.audio(0, { pcm: inbound, ulaw: new Uint8Array(160) }, { pcm: outbound, ulaw: new Uint8Array(160) }) as Buffer[];
    assert.equal(frame!.length, 640);
    assert.equal(frame!.readInt16LE(0), 1000);
    assert.equal(frame!.readInt16LE(2), -2000);
  });

  it("reads the app's audio at its rate into 8 kHz, carrying an odd byte across frames", () => {
    const d = new L16StreamDialect(info(['inbound']), 16000);
    const reply = tone(440, 32000, 16000);
    const bytes = Buffer.from(reply.buffer);
    let got: Int16Array[] = [];
    // Split at odd offsets: a sample straddles two frames.
    for (const [a, b] of [[0, 1001], [1001, 30001], [30001, bytes.length]] as const) {
      const r = d.parse(bytes.subarray(a, b), true);
      assert.equal(r.kind, 'audio');
      if (r.kind === 'audio') got.push(r.pcm);
    }
    const total = got.reduce((n, g) => n + g.length, 0);
    assert.ok(Math.abs(total - 16000) < 40, `${total} samples at 8 kHz for 2 s`);
    const joined = new Int16Array(total);
    let at = 0;
    for (const g of got) {
      joined.set(g, at);
      at += g.length;
    }
    assert.ok(Math.abs(crossingsHz(joined.subarray(100), 8000) - 440) < 5);
    got = [];
  });

  it('parses control frames and reports bad ones instead of throwing', () => {
    const d = new L16StreamDialect(info(['inbound']), 8000);
    assert.deepEqual(d.parse(Buffer.from('{"event":"mark","name":"m1"}'), false), { kind: 'mark', name: 'm1' });
    assert.deepEqual(d.parse(Buffer.from('{"event":"mark"}'), false), { kind: 'mark', name: undefined });
    assert.deepEqual(d.parse(Buffer.from('{"event":"clear"}'), false), { kind: 'clear' });
    assert.equal(d.parse(Buffer.from('{"event":"dance"}'), false).kind, 'invalid');
    assert.equal(d.parse(Buffer.from('not json'), false).kind, 'invalid');
    assert.equal(d.parse(Buffer.from('{"event":"mark","name":5}'), false).kind, 'invalid');
    assert.equal(d.dtmf('5'), '{"event":"dtmf","digit":"5"}');
    assert.equal(d.stop(), '{"event":"stop"}');
  });
});
