/**
 * The SourceGuard wired into a real SipStack on loopback: sources are separate loopback addresses
 * (127.0.0.2, 127.0.0.3...) sending real datagrams and connections. The guard runs on a fake clock,
 * so bans end when the test says; "no answer" is asserted after a later message from another
 * source was answered (one socket, processed in arrival order).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import { SipStack } from '../../src/sip/sip-stack.js';
import { SourceGuard, type BanEvent, type UnbanEvent } from '../../src/sip/source-guard.js';
import { parseDatagram } from '../../src/sip/parser.js';
import { StreamFramer } from '../../src/sip/stream-framer.js';
import type { SipResponse } from '../../src/sip/message.js';
import { FakeClock } from '../helpers/fake-clock.js';

let seq = 0;
function options(transport: 'UDP' | 'TCP', host: string, port: number, stackPort: number, userAgent = 'Linphone/5.2'): string {
  const n = ++seq;
  return [
    `OPTIONS sip:patchbay@127.0.0.1:${stackPort} SIP/2.0`,
    `Via: SIP/2.0/${transport} ${host}:${port};branch=z9hG4bKguard${n};rport`,
    'Max-Forwards: 70',
    `From: <sip:probe@${host}>;tag=t${n}`,
    '<sip:patchbay@127.0.0.1>'.replace(/^/, 'To: '),
    `Call-ID: guard-${n}@${host}`,
    'CSeq: 1 OPTIONS',
    `User-Agent: ${userAgent}`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/** A UDP SIP client bound to one loopback address; keeps the responses it gets. */
class UdpSource {
  readonly responses: SipResponse[] = [];
  private constructor(private readonly socket: dgram.Socket, readonly host: string, private readonly stackPort: number) {
    socket.on('message', (buf) => {
      const out = parseDatagram(buf);
      if (out.ok && out.message.kind === 'response') this.responses.push(out.message);
    });
  }

  static async bind(host: string, stackPort: number): Promise<UdpSource> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, host, r));
    return new UdpSource(s, host, stackPort);
  }

  send(text: string): void {
    this.socket.send(Buffer.from(text), this.stackPort, '127.0.0.1');
  }

  options(userAgent?: string): void {
    this.send(options('UDP', this.host, this.socket.address().port, this.stackPort, userAgent));
  }

  /** Sends an OPTIONS and waits for its 200 (fails after 3 s). */
  async ping(): Promise<void> {
    const before = this.responses.length;
    this.options();
    const deadline = Date.now() + 3000;
    while (this.responses.length === before) {
      if (Date.now() > deadline) throw new Error(`${this.host}: no answer to OPTIONS`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  close(): void {
    this.socket.close();
  }
}

/** Opens a TCP connection from `host`; resolves with it and whether the stack closed it at once. */
async function tcpFrom(host: string, port: number): Promise<net.Socket> {
  const s = net.connect({ host: '127.0.0.1', port, localAddress: host });
  await once(s, 'connect');
  return s;
}

/** Sends OPTIONS on `s`; resolves with the status, or null when the connection closed first. */
function tcpOptions(s: net.Socket, stackPort: number): Promise<number | null> {
  return new Promise((resolve, reject) => {
    // A connection the stack refused may be closed already: its 'close' event is past.
    if (s.closed || s.destroyed) return resolve(null);
    const timer = setTimeout(() => reject(new Error('no response and no close within 3 s')), 3000);
    s.once('close', () => clearTimeout(timer));
    const framer = new StreamFramer();
    s.on('data', (chunk: Buffer) => {
      for (const ev of framer.push(chunk)) if (ev.type === 'message' && ev.message.kind === 'response') {
          clearTimeout(timer);
          resolve(ev.message.status);
        }
    });
    s.on('close', () => resolve(null));
    s.on('error', () => resolve(null));
    s.write(options('TCP', s.localAddress!, s.localPort!, stackPort));
  });
}

describe('SipStack with a SourceGuard', () => {
  const clock = new FakeClock();
  const guard = new SourceGuard({ clock, requestsPerSecond: 5, burst: 5, rateDropsBeforeBan: 1000, scannerRequestsBeforeBan: 2, authFailuresBeforeBan: 1, banMs: 60_000, maxConnectionsPerSource: 2 });
  const stack = new SipStack({ host: '127.0.0.1', port: 0, sourceGuard: guard });
  const bans: BanEvent[] = [];
  const unbans: UnbanEvent[] = [];
  let control: UdpSource;

  before(async () => {
    stack.on('ban', (e) => bans.push(e));
    stack.on('unban', (e) => unbans.push(e));
    await stack.start();
    control = await UdpSource.bind('127.0.0.1', stack.udpPort);
  });

  after(async () => {
    control.close();
    await stack.stop();
    guard.dispose();
  });

  it('answers the burst, then drops requests over the rate without any response', async () => {
    const src = await UdpSource.bind('127.0.0.3', stack.udpPort);
    try {
      for (let i = 0; i < 12; i++) src.options();
      // Datagrams are handled in arrival order on one socket: once the control's OPTIONS is answered, all 12 were seen.
      await control.ping();
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(src.responses.length, 5);
      assert.equal(guard.stats.dropped.rate, 7);
    } finally {
      src.close();
    }
  });

  it('charges responses that match no transaction like requests', async () => {
    const src = await UdpSource.bind('127.0.0.7', stack.udpPort);
    try {
      const before = guard.stats.dropped.rate;
      const stray = (n: number): string =>
        `SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:${stack.udpPort};branch=z9hG4bKnotours${n}\r\nFrom: <sip:a@127.0.0.7>;tag=a\r\nTo: <sip:b@127.0.0.1>;tag=b\r\nCall-ID: stray-${n}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`;
      for (let i = 0; i < 8; i++) src.send(stray(i));
      await control.ping();
      assert.equal(guard.stats.dropped.rate - before, 3, 'the burst of 5 is spent, then each stray response is a drop');
    } finally {
      src.close();
    }
  });

  it('drops scanner User-Agents silently, bans the scanner, and serves it again once the ban ends', async () => {
    const scanner = await UdpSource.bind('127.0.0.2', stack.udpPort);
    try {
      scanner.options('friendly-scanner');
      scanner.options('sipvicious');
      scanner.options('friendly-scanner'); // the third: over the threshold of 2
      await control.ping();
      assert.deepEqual(bans.map((b) => [b.source, b.reason]), [['127.0.0.2', 'scanner']]);
      scanner.options(); // an ordinary User-Agent, but the source is banned
      await control.ping();
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(scanner.responses.length, 0);
      assert.ok(guard.stats.dropped.banned >= 1);
      clock.advance(60_000);
      assert.deepEqual(unbans, [{ source: '127.0.0.2', reason: 'expired' }]);
      await scanner.ping();
    } finally {
      scanner.close();
    }
  });

  it('refuses TCP connections beyond the per-source cap while another source connects', async () => {
    const a = await tcpFrom('127.0.0.4', stack.tcpPort);
    const b = await tcpFrom('127.0.0.4', stack.tcpPort);
    const c = await tcpFrom('127.0.0.4', stack.tcpPort); // the TCP handshake completes; the stack closes it
    const other = await tcpFrom('127.0.0.5', stack.tcpPort);
    try {
      assert.equal(await tcpOptions(a, stack.tcpPort), 200);
      assert.equal(await tcpOptions(b, stack.tcpPort), 200);
      assert.equal(await tcpOptions(c, stack.tcpPort), null);
      assert.equal(await tcpOptions(other, stack.tcpPort), 200);
      assert.equal(guard.stats.dropped.connections, 1);
    } finally {
      for (const s of [a, b, c, other]) s.destroy();
    }
  });

  it('reportAuthFailure bans after the threshold and closes the source’s open connections', async () => {
    const conn = await tcpFrom('127.0.0.6', stack.tcpPort);
    assert.equal(await tcpOptions(conn, stack.tcpPort), 200);
    const closed = once(conn, 'close');
    stack.reportAuthFailure({ transport: 'tcp', host: '127.0.0.6', port: conn.localPort! });
    assert.equal(guard.isBanned('127.0.0.6'), false, 'one failure is tolerated');
    stack.reportAuthFailure({ transport: 'tcp', host: '127.0.0.6', port: conn.localPort! });
    assert.deepEqual(bans.at(-1), { source: '127.0.0.6', reason: 'auth-failures', until: clock.now() + 60_000, renewed: false });
    await closed;
    const again = await tcpFrom('127.0.0.6', stack.tcpPort);
    assert.equal(await tcpOptions(again, stack.tcpPort), null, 'a banned source cannot connect');
    again.destroy();
  });
});
