/**
 * A test RTP endpoint on loopback: SIPp does the signalling and offers this socket's port, so
 * Patchbay's RTP lands here with arrival times. It can also answer into the call from the same port
 * (symmetric RTP keeps Patchbay sending here): RFC 4733 events, timed exactly by the test.
 */
import { createSocket, type Socket } from 'node:dgram';
import { performance } from 'node:perf_hooks';

export interface ReceivedRtp {
  at: number;
  payloadType: number;
  marker: boolean;
  sequence: number;
  timestamp: number;
  payload: Buffer;
}

export class RtpSink {
  readonly packets: ReceivedRtp[] = [];
  private readonly socket: Socket = createSocket('udp4');
  private remote: { address: string; port: number } | null = null;
  private seq = 100;

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', () => resolve()));
    this.socket.on('message', (msg, rinfo) => {
      if (msg.length < 12 || msg[0]! >> 6 !== 2) return;
      this.remote = { address: rinfo.address, port: rinfo.port };
      const cc = msg[0]! & 0x0f;
      this.packets.push({
        at: performance.now(),
        payloadType: msg[1]! & 0x7f,
        marker: (msg[1]! & 0x80) !== 0,
        sequence: msg.readUInt16BE(2),
        timestamp: msg.readUInt32BE(4),
        payload: Buffer.from(msg.subarray(12 + cc * 4)),
      });
    });
    return this;
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** True once Patchbay's RTP has arrived (its source is where we answer). */
  get connected(): boolean {
    return this.remote !== null;
  }

  send(payloadType: number, marker: boolean, timestamp: number, payload: Buffer): void {
    if (!this.remote) throw new Error('no RTP received yet: nowhere to send');
    const packet = Buffer.alloc(12 + payload.length);
    packet[0] = 0x80;
    packet[1] = (marker ? 0x80 : 0) | payloadType;
    packet.writeUInt16BE(this.seq++ & 0xffff, 2);
    packet.writeUInt32BE(timestamp >>> 0, 4);
    packet.writeUInt32BE(0x7e57_0001, 8);
    payload.copy(packet, 12);
    this.socket.send(packet, this.remote.port, this.remote.address);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
