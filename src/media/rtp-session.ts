/**
 * One RTP endpoint per call: an RTP socket on an even port and an RTCP socket on port+1
 * (RFC 3550 §11), G.711 in and out, paced by the process-wide MediaClock.
 *
 * Sending: on every clock tick the session pulls one frame from `output` and sends it — silence
 * when nothing plays, so sequence numbers and timestamps stay continuous and NATs stay open. A live
 * input (a bridge's relayed audio, `setLiveInput`) fills the frames `output` leaves idle. The
 * send path reuses one packet buffer and encodes G.711 into it in place.
 *
 * Symmetric RTP (RFC 4961): we send to the address in the SDP until media arrives, then to the
 * source the remote's packets actually come from; this also traverses NATs that rewrite the
 * remote's address. A re-INVITE with a different address starts over from the new one.
 *
 * Events: 'audio' (pcm, { timestamp, seq }) for each decoded frame of the negotiated codec;
 * 'rtp' (RtpPacket) for every valid packet (telephone-event, comfort noise... consumers filter
 * by payload type); 'rtcp' (RtcpPacket[]); 'first-packet' (rinfo) once; 'socket-error' (Error);
 * 'tick' (pcm, tick) on every media-clock tick once negotiated, with the frame played out on it
 * (silence when nothing was queued): the outgoing audio and the cadence for live-audio forks.
 *
 * SRTP (RFC 3711): with a `secure` transform every packet sent is protected and every packet
 * received unprotected first; one that fails is dropped and counted (stats().srtp), never parsed.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns';
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import { randomInt } from 'node:crypto';
import type { NegotiatedAudio } from '../sip/offer-answer.js';
import { AudioOutput } from './audio-output.js';
import { decodeFrame, encodeFrame, silenceByte } from './g711.js';
import type { MediaClock } from './media-clock.js';
import type { PortAllocator } from './port-allocator.js';
import { compactNtp, marshalRtcp, ntpFromUnixMs, parseRtcp, RtcpError, SDES_CNAME, type ReceptionReport, type RtcpPacket } from './rtcp.js';
import { looksLikeRtcp, RTP_HEADER_SIZE, RtpPacket, RtpPacketError, writeRtpHeader } from './rtp-packet.js';
import { RtpReceiveStats } from './rtp-receive-stats.js';
import { TelephoneEventOutput } from './telephone-event-output.js';
import type { SrtpTransform, SrtpTransformStats } from './srtp-transform.js';

export interface RtpSessionOptions {
  bindAddress: string;
  ports: PortAllocator;
  clock: MediaClock;
  /** Mean RTCP report interval; RFC 3550 §6.2 recommends 5 s. Randomised ×0.5..1.5 (§6.3.1). */
  rtcpIntervalMs?: number;
  /** Port pairs to try when a port is taken by another process. Default 10. */
  maxBindAttempts?: number;
  /** Monotonic ms for receive timing (jitter). Default performance.now. */
  now?: () => number;
  /** SRTP/SRTCP from the first packet (setSecure changes it later, e.g. once SDES keys are agreed). */
  secure?: SrtpTransform;
}

export interface RtpSessionStats {
  packetsSent: number;
  packetsReceived: number;
  /** RTP payload octets, as in the RTCP SR sender's octet count (§6.4.1). */
  bytesSent: number;
  bytesReceived: number;
  packetsLost: number;
  jitterMs: number;
  lastSendLatenessMs: number;
  invalidPackets: number;
  sendErrors: number;
  /** Null on a plain-RTP session. */
  srtp: SrtpTransformStats | null;
}

export interface RtpSessionEvents {
  audio: [pcm: Int16Array, info: { timestamp: number; seq: number }];
  rtp: [packet: RtpPacket];
  rtcp: [packets: RtcpPacket[]];
  'first-packet': [rinfo: RemoteInfo];
  'socket-error': [err: Error];
  /** `pcm` is reused by the next tick: copy what you keep. */
  tick: [pcm: Int16Array, tick: number];
}

/** Audio fed into a session's send path from elsewhere (a media bridge), one frame per tick. */
export interface LiveAudioInput {
  /** Write the next frame into `out` and return true; return false, leaving `out` untouched, when there is none. */
  pullFrame(out: Int16Array): boolean;
  /** This tick's frame is not wanted (the session's own playout goes out instead): consume it without copying. */
  skipFrame(): void;
}

export type RtpSessionErrorCode = 'RTP_BIND_FAILED' | 'RTP_ADDRESS_FAMILY';

export class RtpSessionError extends Error {
  readonly code: RtpSessionErrorCode;
  constructor(code: RtpSessionErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = 'RtpSessionError';
  }
}

/** Resolve IP literals synchronously: the default dns.lookup defers every send by a tick. */
function fastLookup(
  hostname: string,
  options: unknown,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  // Node passes the socket's family as a number here, despite the published typings.
  const family = typeof options === 'number' ? options : ((options as { family?: number } | undefined)?.family ?? 0);
  const ipFamily = isIP(hostname);
  if (ipFamily !== 0) callback(null, hostname, ipFamily);
  else dnsLookup(hostname, { family }, callback);
}

function bindSocket(address: string, port: number): Promise<Socket> {
  const sock = createSocket({ type: isIP(address) === 6 ? 'udp6' : 'udp4', lookup: fastLookup });
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => {
      sock.close();
      reject(err);
    };
    sock.once('error', onError);
    sock.bind(port, address, () => {
      sock.off('error', onError);
      resolve(sock);
    });
  });
}

function isAddrInUse(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'EADDRINUSE' || code === 'EACCES';
}

function isNullAddress(address: string): boolean {
  return address === '0.0.0.0' || address === '::' || address === '';
}

export class RtpSession extends EventEmitter<RtpSessionEvents> {
  readonly localPort: number;
  readonly output = new AudioOutput();
  /** RFC 4733 digits to send; they replace the audio frame of the ticks they go out on. */
  readonly telephoneEvents: TelephoneEventOutput;
  /** Our synchronisation source identifier (§8: chosen at random). */
  readonly ssrc = randomInt(0, 0x100000000);
  readonly cname: string;
  /** Samples per media-clock frame at 8 kHz (160 for 20 ms). */
  readonly samplesPerFrame: number;

  private readonly rtpSocket: Socket;
  private readonly rtcpSocket: Socket;
  private readonly opts: RtpSessionOptions;
  private readonly now: () => number;
  private readonly pcm: Int16Array;
  private readonly packet: Buffer;
  private readonly payload: Buffer;
  private readonly eventPacket = Buffer.alloc(RTP_HEADER_SIZE + 4);
  private silence: Buffer;
  private audio: NegotiatedAudio | null = null;
  private sending = false;
  private remoteAddress = '';
  private remotePort = 0;
  private rtcpAddress = '';
  private rtcpPort = 0;
  private latched = false;
  private seq = randomInt(0, 0x10000);
  private timestamp = randomInt(0, 0x100000000);
  private lastTick = -1;
  private marker = true;
  private nextRtcpTick = -1;
  private sentSinceReport = false;
  private lastSr: { lsr: number; at: number } | null = null;
  private readonly rx = new RtpReceiveStats();
  private readonly counters = { packetsSent: 0, packetsReceived: 0, bytesSent: 0, bytesReceived: 0, invalidPackets: 0, sendErrors: 0 };
  private lastSendLatenessMs = 0;
  private firstPacketSeen = false;
  private live: LiveAudioInput | null = null;
  private secure: SrtpTransform | null;
  private unsubscribe: (() => void) | null;
  private closed = false;

  private constructor(opts: RtpSessionOptions, port: number, rtp: Socket, rtcp: Socket) {
    super();
    this.opts = opts;
    this.localPort = port;
    this.rtpSocket = rtp;
    this.rtcpSocket = rtcp;
    this.now = opts.now ?? (() => performance.now());
    this.secure = opts.secure ?? null;
    this.cname = `patchbay-${this.ssrc.toString(16)}`;
    this.samplesPerFrame = Math.round((8000 * opts.clock.frameMs) / 1000);
    this.telephoneEvents = new TelephoneEventOutput(opts.clock.frameMs);
    this.pcm = new Int16Array(this.samplesPerFrame);
    this.packet = Buffer.alloc(RTP_HEADER_SIZE + this.samplesPerFrame);
    this.payload = this.packet.subarray(RTP_HEADER_SIZE);
    this.silence = Buffer.alloc(this.samplesPerFrame, silenceByte('PCMU'));
    rtp.on('message', (msg, rinfo) => this.onRtpMessage(msg, rinfo));
    rtcp.on('message', (msg, rinfo) => this.onRtcpMessage(msg, rinfo));
    rtp.on('error', (err) => this.onSocketError(err));
    rtcp.on('error', (err) => this.onSocketError(err));
    this.unsubscribe = opts.clock.subscribe((tick) => this.onTick(tick));
  }

  /** Bind an RTP/RTCP socket pair on a port pair from `ports`, skipping pairs other processes hold. */
  static async open(opts: RtpSessionOptions): Promise<RtpSession> {
    const attempts = opts.maxBindAttempts ?? 10;
    const busy: number[] = [];
    try {
      for (let i = 0; i < attempts; i++) {
        const port = opts.ports.allocate();
        let rtp: Socket | null = null;
        try {
          rtp = await bindSocket(opts.bindAddress, port);
          const rtcp = await bindSocket(opts.bindAddress, port + 1);
          return new RtpSession(opts, port, rtp, rtcp);
        } catch (err) {
          rtp?.close();
          if (!isAddrInUse(err)) {
            opts.ports.release(port);
            throw err;
          }
          busy.push(port); // keep it allocated until we are done, so we do not draw it again
        }
      }
      throw new RtpSessionError('RTP_BIND_FAILED', `no bindable RTP port pair on ${opts.bindAddress} after ${attempts} attempts`);
    } finally {
      for (const p of busy) opts.ports.release(p);
    }
  }

  /** Where RTP currently goes (after symmetric-RTP latching). */
  get remote(): { address: string; port: number } | null {
    return this.remoteAddress ? { address: this.remoteAddress, port: this.remotePort } : null;
  }

  /** True when the far end negotiated telephone-event, so digits can go out as RFC 4733 events. */
  get canSendTelephoneEvents(): boolean {
    return this.audio?.telephoneEventPayloadType != null;
  }

  /** Apply an offer/answer result; called again on every re-INVITE (new address, hold, resume). */
  configure(audio: NegotiatedAudio): void {
    const prev = this.audio;
    this.audio = audio;
    if (!prev || prev.remoteAddress !== audio.remoteAddress || prev.remotePort !== audio.remotePort) {
      // The signalled address changed: forget what we latched and start from the SDP again.
      this.remoteAddress = audio.remoteAddress;
      this.remotePort = audio.remotePort;
      this.rtcpAddress = audio.remoteAddress;
      this.rtcpPort = audio.remotePort + 1;
      this.latched = false;
    }
    if (!prev || prev.codec !== audio.codec) this.silence.fill(silenceByte(audio.codec));
    const wasSending = this.sending;
    // Node drops per-packet send errors when no callback is given (and a callback per packet is
    // too costly), so catch the one systematic failure here: an address our socket cannot reach.
    const family = isIP(audio.remoteAddress);
    const reachable = family === 0 || family === (this.rtpSocket.address().family === 'IPv6' ? 6 : 4);
    if (!reachable && !isNullAddress(audio.remoteAddress)) {
      this.onSocketError(new RtpSessionError('RTP_ADDRESS_FAMILY', `cannot send to ${audio.remoteAddress} from ${this.opts.bindAddress}`));
    }
    this.sending =
      (audio.direction === 'sendrecv' || audio.direction === 'sendonly') &&
      reachable &&
      !isNullAddress(audio.remoteAddress) &&
      audio.remotePort > 0;
    if (this.sending && !wasSending) this.marker = true; // §5.1/RFC 3551 §4.1: start of a talkspurt
  }

  /** The live input set by `setLiveInput`, if any. */
  get liveInput(): LiveAudioInput | null {
    return this.live;
  }

  /**
   * Feed the send path from `source` on every tick `output` has nothing to play (null detaches).
   * `output` still wins while it plays; the live frame of such a tick is skipped rather than
   * kept, so relayed audio resumes in step afterwards instead of lagging by the prompt's length.
   */
  setLiveInput(source: LiveAudioInput | null): void {
    this.live = source;
  }

  /** The SRTP transform in use (null: plain RTP). */
  get srtp(): SrtpTransform | null {
    return this.secure;
  }

  /** Protect from now on with `transform` (SDES keys agreed or changed, RFC 4568 §7.1.4); null: plain RTP. */
  setSecure(transform: SrtpTransform | null): void {
    this.secure = transform;
  }

  stats(): RtpSessionStats {
    return {
      ...this.counters,
      packetsLost: Math.max(0, this.rx.lost),
      jitterMs: this.rx.jitterUnits / 8,
      lastSendLatenessMs: this.lastSendLatenessMs,
      srtp: this.secure?.stats() ?? null,
    };
  }

  /** Send RTCP BYE (§6.6), close both sockets, give the ports back and leave the clock. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.output.clear();
    this.telephoneEvents.clear();
    if (this.audio && this.rtcpPort > 0 && !isNullAddress(this.rtcpAddress)) {
      const plainBye = marshalRtcp([...this.buildReport(), { type: 'bye', sources: [this.ssrc] }]);
      const bye = this.secure ? this.secure.protectRtcp(plainBye) : plainBye;
      await new Promise<void>((resolve) => {
        this.rtcpSocket.send(bye, this.rtcpPort, this.rtcpAddress, (err) => {
          if (err) this.onSocketError(err);
          resolve();
        });
      });
    }
    await Promise.all([
      new Promise<void>((r) => this.rtpSocket.close(() => r())),
      new Promise<void>((r) => this.rtcpSocket.close(() => r())),
    ]);
    this.opts.ports.release(this.localPort);
  }

  // ---- send path (runs 50×/s per call: keep it allocation-free) ----

  private onTick(tick: number): void {
    const audio = this.audio;
    if (!audio) return; // not negotiated yet: keep queued audio for when we are
    // Timestamps follow the clock, so ticks the clock skipped show up as a timestamp gap (§5.1).
    if (this.lastTick >= 0) this.timestamp = (this.timestamp + (tick - this.lastTick) * this.samplesPerFrame) >>> 0;
    this.lastTick = tick;
    // Pull even while on hold, so plays keep time with the call instead of stalling.
    let hasAudio = this.output.pullFrame(this.pcm);
    const live = this.live;
    if (live) {
      if (hasAudio) live.skipFrame();
      else hasAudio = live.pullFrame(this.pcm); // pcm is still the silence output wrote when false
    }
    if (this.listenerCount('tick') > 0) this.emit('tick', this.pcm, tick);
    if (this.nextRtcpTick < 0) this.nextRtcpTick = tick + this.rtcpIntervalTicks();
    else if (tick >= this.nextRtcpTick) this.sendRtcpReport(tick);
    const tePt = audio.telephoneEventPayloadType;
    const event = tePt !== null ? this.telephoneEvents.next(this.timestamp) : null;
    if (!this.sending) return;
    if (event && tePt !== null) return this.sendTelephoneEvent(event, tePt);
    if (hasAudio) encodeFrame(this.pcm, audio.codec, this.payload);
    else this.silence.copy(this.payload);
    writeRtpHeader(this.packet, this.marker, audio.payloadType, this.seq, this.timestamp, this.ssrc);
    this.marker = false;
    this.seq = (this.seq + 1) & 0xffff;
    // The kernel usually takes the datagram synchronously (uv_udp_try_send); if it ever queues
    // it, the buffer is only rewritten a whole frame later.
    this.rtpSocket.send(this.secure ? this.secure.protectRtp(this.packet) : this.packet, this.remotePort, this.remoteAddress);
    this.counters.packetsSent++;
    this.counters.bytesSent += this.samplesPerFrame;
    this.sentSinceReport = true;
    this.lastSendLatenessMs = this.opts.clock.lastLatenessMs;
  }

  private sendTelephoneEvent(event: { payload: Buffer; marker: boolean; timestamp: number }, payloadType: number): void {
    writeRtpHeader(this.eventPacket, event.marker, payloadType, this.seq, event.timestamp, this.ssrc);
    event.payload.copy(this.eventPacket, RTP_HEADER_SIZE);
    this.seq = (this.seq + 1) & 0xffff;
    this.rtpSocket.send(this.secure ? this.secure.protectRtp(this.eventPacket) : this.eventPacket, this.remotePort, this.remoteAddress);
    this.counters.packetsSent++;
    this.counters.bytesSent += 4;
    this.sentSinceReport = true;
  }

  private rtcpIntervalTicks(): number {
    const mean = (this.opts.rtcpIntervalMs ?? 5000) / this.opts.clock.frameMs;
    return Math.max(1, Math.round(mean * (0.5 + Math.random())));
  }

  /** SR if we sent since the last report, else RR (§6.4), plus the mandatory SDES CNAME (§6.1). */
  private buildReport(): RtcpPacket[] {
    let block: ReceptionReport | null = null;
    if (this.rx.ssrc !== null) {
      const dlsr = this.lastSr ? Math.round(((this.now() - this.lastSr.at) / 1000) * 65536) : 0;
      block = this.rx.report(this.lastSr?.lsr ?? 0, dlsr);
    }
    const reports = block ? [block] : [];
    const sdes: RtcpPacket = { type: 'sdes', chunks: [{ ssrc: this.ssrc, items: [{ type: SDES_CNAME, text: this.cname }] }] };
    if (!this.sentSinceReport) return [{ type: 'rr', ssrc: this.ssrc, reports }, sdes];
    const ntp = ntpFromUnixMs(performance.timeOrigin + performance.now());
    const senderInfo = { ...ntp, rtpTimestamp: this.timestamp, packetCount: this.counters.packetsSent, octetCount: this.counters.bytesSent };
    return [{ type: 'sr', ssrc: this.ssrc, senderInfo, reports }, sdes];
  }

  private sendRtcpReport(tick: number): void {
    this.nextRtcpTick = tick + this.rtcpIntervalTicks();
    // RTCP keeps flowing on hold (RFC 3264 §8.4); only a null address stops it.
    if (this.rtcpPort === 0 || isNullAddress(this.rtcpAddress)) return;
    const report = this.buildReport();
    this.sentSinceReport = false;
    const plain = marshalRtcp(report);
    this.rtcpSocket.send(this.secure ? this.secure.protectRtcp(plain) : plain, this.rtcpPort, this.rtcpAddress);
  }

  // ---- receive path ----

  private onRtpMessage(datagram: Buffer, rinfo: RemoteInfo): void {
    if (looksLikeRtcp(datagram)) {
      this.onRtcpMessage(datagram, rinfo); // RFC 5761 rtcp-mux from a peer that assumes it
      return;
    }
    // Unauthenticated datagrams are dropped before anything (latching included) looks at them.
    const msg = this.secure ? this.secure.unprotectRtp(datagram) : datagram;
    if (!msg) return;
    let packet: RtpPacket;
    try {
      packet = RtpPacket.parse(msg);
    } catch (err) {
      if (!(err instanceof RtpPacketError)) throw err;
      this.counters.invalidPackets++; // stray datagrams are the network's noise, not our bug
      return;
    }
    const audio = this.audio;
    this.counters.packetsReceived++;
    this.counters.bytesReceived += packet.payload.length;
    this.rx.update(packet.ssrc, packet.sequenceNumber, packet.timestamp, this.now() * 8);
    if (audio && (packet.payloadType === audio.payloadType || packet.payloadType === audio.telephoneEventPayloadType)) {
      this.latch(rinfo);
    }
    if (!this.firstPacketSeen) {
      this.firstPacketSeen = true;
      this.emit('first-packet', rinfo);
    }
    this.emit('rtp', packet);
    if (audio && packet.payloadType === audio.payloadType && packet.payload.length > 0) {
      const pcm = new Int16Array(packet.payload.length); // handed to listeners, who may keep it
      decodeFrame(packet.payload, audio.codec, pcm);
      this.emit('audio', pcm, { timestamp: packet.timestamp, seq: packet.sequenceNumber });
    }
  }

  /** Symmetric RTP: answer to where the media really comes from (RFC 4961 §3). */
  private latch(rinfo: RemoteInfo): void {
    if (this.latched && rinfo.address === this.remoteAddress && rinfo.port === this.remotePort) return;
    if (!this.sending && this.audio && isNullAddress(this.audio.remoteAddress)) return; // held with c=0.0.0.0
    this.remoteAddress = rinfo.address;
    this.remotePort = rinfo.port;
    if (!this.latched || this.rtcpAddress !== rinfo.address) {
      this.rtcpAddress = rinfo.address;
      this.rtcpPort = rinfo.port + 1;
    }
    this.latched = true;
  }

  private onRtcpMessage(datagram: Buffer, rinfo: RemoteInfo): void {
    const msg = this.secure ? this.secure.unprotectRtcp(datagram) : datagram;
    if (!msg) return;
    let packets: RtcpPacket[];
    try {
      packets = parseRtcp(msg);
    } catch (err) {
      if (!(err instanceof RtcpError)) throw err;
      this.counters.invalidPackets++;
      return;
    }
    if (this.latched && rinfo.address === this.remoteAddress) {
      this.rtcpAddress = rinfo.address;
      this.rtcpPort = rinfo.port;
    }
    for (const p of packets) {
      if (p.type === 'sr') this.lastSr = { lsr: compactNtp(p.senderInfo.ntpSeconds, p.senderInfo.ntpFraction), at: this.now() };
    }
    this.emit('rtcp', packets);
  }

  private onSocketError(err: Error): void {
    // Socket-level failures are per call, not fatal to the process: count, report, keep going.
    this.counters.sendErrors++;
    this.emit('socket-error', err);
  }
}
