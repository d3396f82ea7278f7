/**
 * SDP offer/answer (RFC 3264) for a G.711 audio endpoint.
 *
 * We accept one audio stream (RTP/AVP or RTP/AVPF) carrying PCMU or PCMA, plus RFC 4733
 * telephone-event for DTMF. Every other m-line is rejected with port 0 (§6), in the offer's order.
 * Hold is understood both ways it is signalled: a direction attribute (§8.4) and the legacy
 * RFC 2543 `c=0.0.0.0`.
 *
 * `NegotiatedAudio.direction` is always OUR direction: 'recvonly' means we must not send.
 *
 * SRTP with SDES keys (RFC 4568) follows `LocalMedia.srtp` (sdes-negotiation.ts has the rules):
 * RTP/SAVP(F) streams are accepted when the policy allows SRTP, a=crypto on RTP/AVP is answered
 * as best-effort SRTP, and `NegotiatedAudio.srtp` says what was agreed.
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
import { formatCryptoAttribute, type CryptoAttribute } from './sdp-crypto.js';
import {
  answerCrypto,
  cryptoAttributeLine,
  offerProtocol,
  readAnswerCrypto,
  type CryptoAnswer,
  type NegotiatedSrtp,
  type SdpWarning,
  type SrtpPolicy,
} from './sdes-negotiation.js';

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
  /** SDES-SRTP agreed for the stream; null or absent: plain RTP. */
  srtp?: NegotiatedSrtp | null;
}

export type AnswerResult =
  | { ok: true; answer: string; audio: NegotiatedAudio }
  /** `warning`: RFC 3261 §20.43 code and text for a Warning header, when the refusal is about SRTP. */
  | { ok: false; status: 488; reason: string; warning?: SdpWarning };

/** SDES for our side of an offer/answer. */
export interface LocalSrtp {
  policy: SrtpPolicy;
  /** Answering a re-INVITE: the SRTP in force, whose key we keep (RFC 4568 §7.1.4). */
  current?: NegotiatedSrtp | null;
  /** Offering: the a=crypto lines to offer (sdes-negotiation offerCrypto), kept to read the answer. */
  offered?: readonly CryptoAttribute[];
}

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
  /** SRTP policy and keys. Default: policy 'optional' (SRTP when the offer asks for it), nothing offered. */
  srtp?: LocalSrtp;
}

/** RFC 3551 static payload types. */
const STATIC_PT: Readonly<Record<AudioCodec, number>> = { PCMU: 0, PCMA: 8 };
const DEFAULT_CODECS: readonly AudioCodec[] = ['PCMU', 'PCMA'];
/** Payload type we offer for telephone-event; any dynamic value (96-127) works. */
const OFFER_TELEPHONE_EVENT_PT = 101;
const SUPPORTED_PROTOCOLS = new Set(['RTP/AVP', 'RTP/AVPF', 'RTP/SAVP', 'RTP/SAVPF']);
const DEFAULT_SRTP: LocalSrtp = { policy: 'optional' };

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

function reject(reason: string, warning?: SdpWarning): AnswerResult {
  return warning ? { ok: false, status: 488, reason, warning } : { ok: false, status: 488, reason };
}

interface AnsweredAudio {
  audio: NegotiatedAudio;
  media: MediaDescription;
}

type Refusal = { reason: string; warning?: SdpWarning };

/** The answer's m-line for an acceptable audio stream, or null when we share no codec with it. */
function answerAudio(
  offer: SessionDescription,
  m: MediaDescription,
  accepted: readonly AudioCodec[],
  localPort: number,
  srtp: NegotiatedSrtp | null = null,
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
      ...(srtp ? { srtp } : {}),
    },
    media: {
      type: 'audio',
      port: localPort,
      protocol: m.protocol,
      formats,
      connection: null,
      attributes: [...audioAttributes([picked], picked.telephoneEventPayloadType, direction), ...(srtp ? [cryptoAttributeLine(srtp)] : [])],
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
  const sdes = local.srtp ?? DEFAULT_SRTP;
  let audio: NegotiatedAudio | null = null;
  let sawAudio = false;
  let refusal: Refusal | null = null;
  const answerMedia: MediaDescription[] = [];
  for (const m of offer.media) {
    // §6: each offered stream gets an m-line in the answer, same order; port 0 rejects it.
    let accept: boolean = audio === null && m.type === 'audio' && m.port !== 0 && SUPPORTED_PROTOCOLS.has(m.protocol);
    if (accept) sawAudio = true;
    // An SRTP mismatch rejects this stream only: an offer may carry an RTP/SAVP and an RTP/AVP alternative.
    const security: CryptoAnswer | null = accept ? answerCrypto(m, sdes.policy, sdes.current ?? null) : null;
    if (security && !security.ok) {
      refusal ??= { reason: security.reason, warning: security.warning };
      accept = false;
    }
    const answered: AnsweredAudio | null = accept && security?.ok ? answerAudio(offer, m, accepted, local.port, security.srtp) : null;
    if (answered) {
      audio = answered.audio;
      answerMedia.push(answered.media);
    } else {
      answerMedia.push({ type: m.type, port: 0, protocol: m.protocol, formats: m.formats, connection: null, attributes: [] });
    }
  }
  if (audio === null) {
    if (refusal) return reject(refusal.reason, refusal.warning);
    return reject(sawAudio ? 'No common codec' : 'No acceptable audio stream');
  }
  return { ok: true, answer: serializeSdp(localSession(local, answerMedia)), audio };
}

/** An initial (or re-INVITE) offer with one audio stream: our codecs in order, plus telephone-event. */
export function createOffer(local: LocalMedia): string {
  const codecs = local.codecs ?? DEFAULT_CODECS;
  if (codecs.length === 0) throw new RangeError('createOffer needs at least one codec');
  const picked: Picked[] = codecs.map((codec) => ({ codec, payloadType: STATIC_PT[codec], telephoneEventPayloadType: null }));
  const formats = [...picked.map((p) => String(p.payloadType)), String(OFFER_TELEPHONE_EVENT_PT)];
  const offered = local.srtp?.offered ?? [];
  const m: MediaDescription = {
    type: 'audio',
    port: local.port,
    // RTP/SAVP only when SRTP is required; otherwise a=crypto rides on RTP/AVP (best effort).
    protocol: local.srtp && offered.length > 0 ? offerProtocol(local.srtp.policy) : 'RTP/AVP',
    formats,
    connection: null,
    attributes: [...audioAttributes(picked, OFFER_TELEPHONE_EVENT_PT, local.direction ?? 'sendrecv'), ...offered.map((c) => formatCryptoAttribute(c))],
  };
  return serializeSdp(localSession(local, [m]));
}

/**
 * Read the answer to our offer: the first accepted audio stream and its codec.
 * Returns null when the answer rejects audio or names no codec we support; throws SdpParseError
 * when the text is not SDP.
 */
export function readAnswer(answerSdp: string, codecs: readonly AudioCodec[] = DEFAULT_CODECS): NegotiatedAudio | null {
  const result = readAnswerResult(answerSdp, { codecs });
  return result.ok ? result.audio : null;
}

/** `srtp`: the failure is about SRTP (the answer's a=crypto or its absence), not codecs or streams. */
export type ReadAnswerResult = { ok: true; audio: NegotiatedAudio } | { ok: false; reason: string; srtp: boolean };

/**
 * Read the answer to our offer, SRTP included: `srtp` is what we offered (policy and lines). Fails
 * with a reason when the answer rejects audio, names no codec we support, or its SRTP does not fit
 * the offer or the policy (RFC 4568 §7.1.3). Throws SdpParseError when the text is not SDP.
 */
export function readAnswerResult(answerSdp: string, options: { codecs?: readonly AudioCodec[]; srtp?: LocalSrtp } = {}): ReadAnswerResult {
  const answer = parseSdp(answerSdp);
  for (const m of answer.media) {
    if (m.type !== 'audio' || m.port === 0) continue;
    const security = readAnswerCrypto(m, options.srtp?.offered ?? [], options.srtp?.policy ?? 'optional');
    if (!security.ok) return { ok: false, reason: security.reason, srtp: true };
    // Same codec/direction/hold rules as answering; the m-line it would build is not needed.
    const audio = answerAudio(answer, m, options.codecs ?? DEFAULT_CODECS, 0, security.srtp)?.audio ?? null;
    return audio ? { ok: true, audio } : { ok: false, reason: 'the answer has no usable audio (PCMU/PCMA)', srtp: false };
  }
  return { ok: false, reason: 'the answer has no audio stream', srtp: false };
}
