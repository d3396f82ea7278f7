/**
 * A scripted SIP peer for loopback tests: a raw UDP socket or TCP connection that sends text
 * messages and waits for parsed ones, so stack tests see exactly what goes on the wire.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { once } from 'node:events';
import type { SipMessage, SipRequest, SipResponse } from '../../src/sip/message.js';
import { parseDatagram } from '../../src/sip/parser.js';
import { StreamFramer } from '../../src/sip/stream-framer.js';

export class SipPeer {
  readonly inbox: SipMessage[] = [];
  private waiters: (() => void)[] = [];
  private constructor(
    private readonly write: (buf: Buffer) => void,
    readonly port: number,
    readonly transport: 'UDP' | 'TCP',
    private readonly closeFn: () => void,
  ) {}

  static async udp(targetPort: number): Promise<SipPeer> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
    const peer = new SipPeer((b) => s.send(b, targetPort, '127.0.0.1'), s.address().port, 'UDP', () => s.close());
    s.on('message', (buf) => {
      const out = parseDatagram(buf);
      if (out.ok) peer.push(out.message);
    });
    return peer;
  }

  static async tcp(targetPort: number): Promise<SipPeer> {
    const s = net.connect({ host: '127.0.0.1', port: targetPort });
    await once(s, 'connect');
    const framer = new StreamFramer();
    const peer = new SipPeer((b) => s.write(b), s.localPort!, 'TCP', () => s.destroy());
    s.on('data', (chunk: Buffer) => {
      for (const ev of framer.push(chunk)) if (ev.type === 'message') peer.push(ev.message);
    });
    return peer;
  }

  send(text: string): void {
    this.write(Buffer.from(text.replace(/\r?\n/g, '\r\n')));
  }

  /** Waits for (and removes) the first message matching `pred`; fails after `ms` of real time. */
  async next<T extends SipMessage = SipMessage>(pred: (m: SipMessage) => boolean = () => true, ms = 3000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.inbox.findIndex(pred);
      if (i >= 0) return this.inbox.splice(i, 1)[0] as T;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`SipPeer: no matching message within ${ms} ms; inbox: ${this.inbox.map(describe).join(', ')}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  response(status: number, method?: string): Promise<SipResponse> {
    return this.next<SipResponse>((m) => m.kind === 'response' && m.status === status && (!method || (m.headers.get('cseq') ?? '').endsWith(method)));
  }

  request(method: string): Promise<SipRequest> {
    return this.next<SipRequest>((m) => m.kind === 'request' && m.method === method);
  }

  /** Lets in-flight datagrams arrive, then returns how many messages are waiting. */
  async settle(ms = 50): Promise<number> {
    await new Promise((r) => setTimeout(r, ms));
    return this.inbox.length;
  }

  close(): void {
    this.closeFn();
  }

  private push(m: SipMessage): void {
    this.inbox.push(m);
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

export function describe(m: SipMessage): string {
  return m.kind === 'request' ? m.method : `${m.status} ${m.headers.get('cseq')}`;
}

/** Builds a request as a UA at `peer` would send it to the stack at `stackPort`. */
export function peerRequest(
  peer: SipPeer,
  stackPort: number,
  method: string,
  o: { branch: string; callId?: string; cseq?: number; toTag?: string; body?: string; extra?: string; cseqMethod?: string },
): string {
  const body = o.body ?? '';
  return [
    `${method} sip:patchbay@127.0.0.1:${stackPort} SIP/2.0`,
    `Via: SIP/2.0/${peer.transport} 127.0.0.1:${peer.port};branch=${o.branch};rport`,
    'Max-Forwards: 70',
    'From: <sip:alice@127.0.0.1>;tag=alice1',
    `To: <sip:patchbay@127.0.0.1>${o.toTag ? `;tag=${o.toTag}` : ''}`,
    `Call-ID: ${o.callId ?? 'call-a@127.0.0.1'}`,
    `CSeq: ${o.cseq ?? 1} ${o.cseqMethod ?? method}`,
    `Contact: <sip:alice@127.0.0.1:${peer.port}${peer.transport === 'TCP' ? ';transport=tcp' : ''}>`,
    ...(o.extra ? [o.extra] : []),
    ...(body ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    body,
  ].join('\r\n');
}
