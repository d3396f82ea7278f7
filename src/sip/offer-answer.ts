/**
 * SDP offer/answer (RFC 3264) for a G.711 audio endpoint.
 *
 * We accept one audio stream (RTP/AVP or RTP/AVPF) carrying PCMU or PCMA, plus RFC 4733
 * telephone-event for DTMF. Every other m-line is rejected with port 0 (§6), in the offer's order.
 * Hold is understood both ways it is signalled: a direction attribute (§8.4) and the legacy
 * RFC 2543 `c=0.0.0.0`.
 *
 * `NegotiatedAudio.direction` is always OUR direction: 'recvonly' means we must not send.
 */
import {
  fmtpFor,
  mediaConnection,
  mediaDirection,
  parseSdp,
  rtpmaps,
  serializeSdp,
  type MediaDescription,
  type MediaDirection,
  type SessionDescription,
} from './sdp.js';

export type AudioCodec = 'PCMU' | 'PCMA';

export interface NegotiatedAudio {
  remoteAddress: string;
  remotePort: number;
  codec: AudioCodec;
  payloadType: number;
  telephoneEventPayloadType: number | null;
  /** Packetization time the remote asked to receive (a=ptime), default 20. */
  ptime: number;
  /** Our direction: whether we send and/or receive. */
  direction: MediaDirection;
}

export type AnswerResult =
  | { ok: true; answer: string; audio: NegotiatedAudio }
  | { ok: false; status: 488; reason: string };

export interface LocalMedia {
  /** Our RTP address (IPv4 or IPv6 literal) and even RTP port. */
  address: string;
  port: number;
  /** o= session id and version: the version must grow with every new offer/answer in a dialog (§8). */
  sessionId: string;
  sessionVersion: number;
  /** Codecs we accept, ours in preference order (for offers). Default ['PCMU', 'PCMA']. */
  codecs?: AudioCodec[];
  /** Our direction for an offer (hold = 'sendonly'). Default 'sendrecv'. */
  direction?: MediaDirection;
}

/** RFC 3551 static payload types. */
const STATIC_PT: Readonly<Record<AudioCodec, number>> = { PCMU: 0, PCMA: 8 };
const DEFAULT_CODECS: readonly AudioCodec[] = ['PCMU', 'PCMA'];
/** Payload type we offer for telephone-event; any dynamic value (96-127) works. */
const OFFER_TELEPHONE_EVENT_PT = 101;
const SUPPORTED_PROTOCOLS = new Set(['RTP/AVP', 'RTP/AVPF']);

/** What the stream's peer does, seen from our side: their sendonly is our recvonly (§6.1). */
function reverse(d: MediaDirection): MediaDirection {
  if (d === 'sendonly') return 'recvonly';
  if (d === 'recvonly') return 'sendonly';
  return d;
}

/** A connection address that means "do not send to me" (RFC 3264 §8.4, RFC 2543 hold). */
function isNullAddress(address: string): boolean {
  return address === '0.0.0.0' || address === '::';
}

/** Our direction after accounting for a null remote address: we must not send to it. */
function withoutSending(d: MediaDirection): MediaDirection {
  if (d === 'sendrecv') return 'recvonly';
  if (d === 'sendonly') return 'inactive';
  return d;
}

function addrType(address: string): 'IP4' | 'IP6' {
  return address.includes(':') ? 'IP6' : 'IP4';
}

/** Encoding name of a format in `m`: its rtpmap, or the RFC 3551 static assignment. */
function codecOf(fmt: string, maps: ReturnType<typeof rtpmaps>): AudioCodec | null {
  const pt = Number(fmt);
  if (!/^\d+$/.test(fmt)) return null;
  const map = maps.get(pt);
  if (map) {
    const enc = map.encoding.toUpperCase();
    if ((enc === 'PCMU' || enc === 'PCMA') && map.clockRate === 8000 && map.channels === 1) return enc;
    return null;
  }
  if (pt === 0) return 'PCMU';
  if (pt === 8) return 'PCMA';
  return null;
}

function telephoneEventPt(m: MediaDescription, maps: ReturnType<typeof rtpmaps>): number | null {
  for (const fmt of m.formats) {
    const map = maps.get(Number(fmt));
    if (map && map.encoding.toLowerCase() === 'telephone-event' && map.clockRate === 8000) return map.payloadType;
  }
  return null;
}

function ptimeOf(sd: SessionDescription, m: MediaDescription): number {
  for (const attrs of [m.attributes, sd.attributes]) {
    for (const a of attrs) {
      const r = /^ptime:\s*(\d+(?:\.\d+)?)/.exec(a);
      // Finite: 400 digits make Number() Infinity (found by fuzzing); 1000 ms is far beyond any codec's.
      if (r && Number(r[1]) > 0 && Number(r[1]) <= 1000) return Number(r[1]);
    }
  }
  return 20;
}

interface Picked {
  codec: AudioCodec;
  payloadType: number;
  telephoneEventPayloadType: number | null;
}

/** First format in the remote's order that we support (RFC 3264 §6.1: honour their preference). */
function pickCodec(m: MediaDescription, accepted: readonly AudioCodec[]): Picked | null {
  const maps = rtpmaps(m);
  for (const fmt of m.formats) {
    const codec = codecOf(fmt, maps);
    if (codec && accepted.includes(codec)) {
      return { codec, payloadType: Number(fmt), telephoneEventPayloadType: telephoneEventPt(m, maps) };
    }
  }
  return null;
}

function audioAttributes(picked: Picked[], tePt: number | null, direction: MediaDirection): string[] {
  const attrs = picked.map((p) => `rtpmap:${p.payloadType} ${p.codec}/8000`);
  if (tePt !== null) attrs.push(`rtpmap:${tePt} telephone-event/8000`, `fmtp:${tePt} 0-16`);
  attrs.push('ptime:20', direction);
  return attrs;
}

function localSession(local: LocalMedia, media: MediaDescription[]): SessionDescription {
  const t = addrType(local.address);
  return {
    version: 0,
    origin: {
      username: '-',
      sessionId: local.sessionId,
      sessionVersion: String(local.sessionVersion),
      netType: 'IN',
      addrType: t,
      address: local.address,
    },
    sessionName: 'patchbay',
    connection: { netType: 'IN', addrType: t, address: local.address },
    timing: '0 0',
    attributes: [],
    media,
  };
}

function reject(reason: string): AnswerResult {
  return { ok: false, status: 488, reason };
}

interface AnsweredAudio {
  audio: NegotiatedAudio;
  media: MediaDescription;
}

/** The answer's m-line for an acceptable audio stream, or null when we share no codec with it. */
function answerAudio(
  offer: SessionDescription,
  m: MediaDescription,
  accepted: readonly AudioCodec[],
  localPort: number,
): AnsweredAudio | null {
  const picked = pickCodec(m, accepted);
  const conn = mediaConnection(offer, m);
  if (!picked || !conn) return null;
  let direction = reverse(mediaDirection(offer, m));
  if (isNullAddress(conn.address)) direction = withoutSending(direction);
  const formats = [String(picked.payloadType)];
  if (picked.telephoneEventPayloadType !== null) formats.push(String(picked.telephoneEventPayloadType));
  return {
    audio: {
      remoteAddress: conn.address.split('/')[0],
      remotePort: m.port,
      codec: picked.codec,
      payloadType: picked.payloadType,
      telephoneEventPayloadType: picked.telephoneEventPayloadType,
      ptime: ptimeOf(offer, m),
      direction,
    },
    media: {
      type: 'audio',
      port: localPort,
      protocol: m.protocol,
      formats,
      connection: null,
      attributes: audioAttributes([picked], picked.telephoneEventPayloadType, direction),
    },
  };
}

/** Answer an offer (RFC 3264 §6). Returns a 488 result when no audio stream is acceptable. */
export function answerOffer(offerSdp: string, local: LocalMedia): AnswerResult {
  let offer: SessionDescription;
  try {
    offer = parseSdp(offerSdp);
  } catch (err) {
    // Not swallowed: the reason travels back to the caller in the 488.
    return reject(`Unparseable SDP: ${(err as Error).message}`);
  }
  const accepted = local.codecs ?? DEFAULT_CODECS;
  let audio: NegotiatedAudio | null = null;
  let sawAudio = false;
  const answerMedia: MediaDescription[] = [];
  for (const m of offer.media) {
    // §6: each offered stream gets an m-line in the answer, same order; port 0 rejects it.
    const accept: boolean = audio === null && m.type === 'audio' && m.port !== 0 && SUPPORTED_PROTOCOLS.has(m.protocol);
    if (accept) sawAudio = true;
    const answered: AnsweredAudio | null = accept ? answerAudio(offer, m, accepted, local.port) : null;
    if (answered) {
      audio = answered.audio;
      answerMedia.push(answered.media);
    } else {
      answerMedia.push({ type: m.type, port: 0, protocol: m.protocol, formats: m.formats, connection: null, attributes: [] });
    }
  }
  if (audio === null) return reject(sawAudio ? 'No common codec' : 'No acceptable audio stream');
  return { ok: true, answer: serializeSdp(localSession(local, answerMedia)), audio };
}

/** An initial (or re-INVITE) offer with one audio stream: our codecs in order, plus telephone-event. */
export function createOffer(local: LocalMedia): string {
  const codecs = local.codecs ?? DEFAULT_CODECS;
  if (codecs.length === 0) throw new RangeError('createOffer needs at least one codec');
  const picked: Picked[] = codecs.map((codec) => ({ codec, payloadType: STATIC_PT[codec], telephoneEventPayloadType: null }));
  const formats = [...picked.map((p) => String(p.payloadType)), String(OFFER_TELEPHONE_EVENT_PT)];
  const m: MediaDescription = {
    type: 'audio',
    port: local.port,
    protocol: 'RTP/AVP',
    formats,
    connection: null,
    attributes: audioAttributes(picked, OFFER_TELEPHONE_EVENT_PT, local.direction ?? 'sendrecv'),
  };
  return serializeSdp(localSession(local, [m]));
}

/**
 * Read the answer to our offer: the first accepted audio stream and its codec.
 * Returns null when the answer rejects audio or names no codec we support; throws SdpParseError
 * when the text is not SDP.
 */
export function readAnswer(answerSdp: string, codecs: readonly AudioCodec[] = DEFAULT_CODECS): NegotiatedAudio | null {
  const answer = parseSdp(answerSdp);
  for (const m of answer.media) {
    if (m.type !== 'audio' || m.port === 0) continue;
    // Same codec/direction/hold rules as answering; the m-line it would build is not needed.
    return answerAudio(answer, m, codecs, 0)?.audio ?? null;
  }
  return null;
}
