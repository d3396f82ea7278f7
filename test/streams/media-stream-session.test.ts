import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { AudioOutput } from '../../src/media/audio-output.js';
import { MediaStreamSession, type StreamEnd, type StreamWarning } from '../../src/streams/media-stream-session.js';
import { TwilioStreamDialect } from '../../src/streams/twilio-stream-dialect.js';

const INFO = { streamSid: 'MZ00000000000000000000000000000001', accountSid: 'AC1', callSid: 'CA1', tracks: ['inbound'] as const, customParameters: [] };

/** A loopback app server handing each connection to the test. */
class App {
  readonly server: Server = createServer();
  readonly wss = new WebSocketServer({ server: this.server });
  readonly sockets: WebSocket[] = [];
  readonly received: string[] = [];
  async start(): Promise<string> {
    this.wss.on('connection', (ws) => {
      this.sockets.push(ws);
      ws.on('message', (d) => this.received.push(d.toString()));
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `ws://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
  }
  async stop(): Promise<void> {
    for (const s of this.wss.clients) s.terminate();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

async function until(pred: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(pred(), `timed out waiting for ${what}`);
}

const ulawB64 = (bytes: number): string => Buffer.alloc(bytes, 0x10).toString('base64');

describe('MediaStreamSession (bidirectional playout)', () => {
  const app = new App();
  let url: string;
  before(async () => {
    url = await app.start();
  });
  after(() => app.stop());

  async function open(maxQueuedSamples?: number): Promise<{ session: MediaStreamSession; output: AudioOutput; ws: WebSocket; warnings: StreamWarning[] }> {
    const output = new AudioOutput();
    const n = app.sockets.length;
    const opened = app.received.length;
    const session = new MediaStreamSession({ url, dialect: new TwilioStreamDialect(INFO), playout: output, ...(maxQueuedSamples ? { maxQueuedSamples } : {}) });
    const warnings: StreamWarning[] = [];
    session.on('warning', (w) => warnings.push(w));
    await session.start();
    await until(() => app.sockets.length > n && app.received.length >= opened + 2, 'connected and start');
    return { session, output, ws: app.sockets[n]!, warnings };
  }

  /** Plays `frames` media ticks out of the queue, as the media clock would. */
  function pull(output: AudioOutput, frames: number): number {
    let audible = 0;
    const frame = new Int16Array(160);
    for (let i = 0; i < frames; i++) if (output.pullFrame(frame) && frame.some((v) => v !== 0)) audible++;
    return audible;
  }

  it('echoes marks in order only once the audio before them has been played', async () => {
    const { session, output, ws } = await open();
    const before = app.received.length;
    ws.send(JSON.stringify({ event: 'media', media: { payload: ulawB64(800) } }));
    ws.send(JSON.stringify({ event: 'mark', mark: { name: 'a' } }));
    ws.send(JSON.stringify({ event: 'media', media: { payload: ulawB64(320) } }));
    ws.send(JSON.stringify({ event: 'mark' }));
    await until(() => output.queuedSamples === 1120, 'queued audio');
    assert.equal(pull(output, 4), 4);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(app.received.slice(before).length, 0, 'no echo before its audio has played');
    pull(output, 1);
    await until(() => app.received.length > before, 'first echo');
    pull(output, 2);
    await until(() => app.received.length > before + 1, 'second echo');
    const echoes = app.received.slice(before).map((m) => JSON.parse(m));
    assert.deepEqual(echoes.map((e) => e.mark), [{ name: 'a' }, {}]);
    session.stop();
  });

  it('clear empties the queue at once and echoes the pending marks', async () => {
    const { session, output, ws } = await open();
    const before = app.received.length;
    ws.send(JSON.stringify({ event: 'media', media: { payload: ulawB64(80000) } }));
    ws.send(JSON.stringify({ event: 'mark', mark: { name: 'end' } }));
    ws.send(JSON.stringify({ event: 'clear' }));
    await until(() => app.received.length > before, 'mark echo');
    assert.equal(output.queuedSamples, 0);
    assert.equal(pull(output, 1), 0);
    assert.equal(JSON.parse(app.received.at(-1)!).mark.name, 'end');
    session.stop();
  });

  it('bounds the queue: audio beyond the limit is dropped with one 31930 warning', async () => {
    const { session, output, ws, warnings } = await open(8000);
    for (let i = 0; i < 5; i++) ws.send(JSON.stringify({ event: 'media', media: { payload: ulawB64(4000) } }));
    await until(() => session.counters.appAudioDropped === 12000, 'drops');
    assert.equal(output.queuedSamples, 8000);
    assert.deepEqual(warnings.map((w) => w.code), [31930]);
    session.stop();
  });

  it('reports an invalid message once and keeps the stream; the app closing ends it as app-closed', async () => {
    const { session, ws, warnings } = await open();
    const ended = new Promise<StreamEnd>((r) => session.once('ended', r));
    ws.send('{"event":"dance"}');
    ws.send('not json');
    await until(() => session.counters.invalidMessages === 2, 'both messages');
    assert.deepEqual(warnings.map((w) => w.code), [31951]);
    assert.equal(session.isOpen, true);
    ws.close(1000);
    assert.deepEqual(await ended, { reason: 'app-closed' });
  });

  it('fails a refused handshake with 31920', async () => {
    const server = createServer((_q, r) => r.writeHead(403).end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const refused = new MediaStreamSession({ url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}/`, dialect: new TwilioStreamDialect(INFO), playout: null });
    const ended = new Promise<StreamEnd>((r) => refused.once('ended', r));
    await refused.start();
    const end = await ended;
    assert.equal(end.reason, 'failed');
    assert.equal(end.code, 31920);
    assert.match(end.message!, /403/);
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('checks wss certificates: a server with a self-signed certificate fails the handshake (31920)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wss-'));
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-days', '1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')], { stdio: 'ignore' });
      const server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) });
      const wss = new WebSocketServer({ server });
      let connected = false;
      wss.on('connection', () => (connected = true));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const session = new MediaStreamSession({ url: `wss://127.0.0.1:${(server.address() as AddressInfo).port}/`, dialect: new TwilioStreamDialect(INFO), playout: null });
      const ended = new Promise<StreamEnd>((r) => session.once('ended', r));
      await session.start();
      const end = await ended;
      assert.equal(end.code, 31920);
      assert.match(end.message!, /certificate/i);
      assert.equal(connected, false);
      await new Promise<void>((r) => server.close(() => r()));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
