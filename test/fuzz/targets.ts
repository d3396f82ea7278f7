/**
 * Fuzz targets and their oracles. Common rule: the code under test may return an error value or
 * throw its own typed error (SipParseError, SdpParseError, VerbDocumentError...), never anything
 * else. On top of that each target checks what its module promises: a successful parse
 * re-serializes and re-parses to the same thing, a TCP framer gives the same messages however the
 * bytes are chunked and never buffers more than its limit, negotiated media values are in range.
 */
import { isDeepStrictEqual } from 'node:util';
import { createResponse, type SipMessage } from '../../src/sip/message.js';
import { SipParseError, parseDatagram } from '../../src/sip/parser.js';
import { SipSerializeError, serializeMessage } from '../../src/sip/serializer.js';
import { StreamFramer, type FramerEvent } from '../../src/sip/stream-framer.js';
import { isResponseAcceptable, validateRequest } from '../../src/sip/request-validator.js';
import { formatNameAddr, formatVia, getVias, parseCSeq, parseNameAddr, parseVia, splitHeaderValues } from '../../src/sip/header-values.js';
import { formatUri, parseUri } from '../../src/sip/uri.js';
import { authorizationFor, parseChallenge, parseCredentials, pickChallenge } from '../../src/sip/digest.js';
import { SdpParseError, parseSdp, serializeSdp } from '../../src/sip/sdp.js';
import { answerOffer, readAnswer, type NegotiatedAudio } from '../../src/sip/offer-answer.js';
import { readSsmlFragment, readTwiml } from '../../src/verbs/twiml-reader.js';
import { readJsonVerbs } from '../../src/verbs/json-reader.js';
import { VerbDocumentError } from '../../src/verbs/verb-errors.js';
import { parseAppMessage } from '../../src/streams/media-stream-messages.js';
import { TwilioStreamDialect } from '../../src/streams/twilio-stream-dialect.js';
import { L16StreamDialect } from '../../src/streams/l16-stream-dialect.js';
import type { StreamDialect, StreamStartInfo } from '../../src/streams/stream-dialect.js';
import { OracleViolation, type FuzzTarget } from './runner.js';
import * as seeds from './seeds.js';

function check(cond: boolean, message: string): asserts cond {
  if (!cond) throw new OracleViolation(message);
}

/** Runs `fn`, turning the module's own typed errors into `undefined`; anything else propagates. */
function allowing<T>(types: readonly (abstract new (...args: never[]) => Error)[], fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (types.some((t) => err instanceof t)) return undefined;
    throw err;
  }
}

const text = (b: Buffer): string => b.toString('utf8');

// ---- SIP messages ------------------------------------------------------------------------------

const isContentLength = (name: string): boolean => /^(content-length|l)$/i.test(name);

/** Equal start line, headers (Content-Length aside: the serializer rewrites it) and body. */
function messageDiff(a: SipMessage, b: SipMessage): string | null {
  const line = (m: SipMessage): unknown[] => (m.kind === 'request' ? [m.kind, m.method, m.uri, m.version] : [m.kind, m.version, m.status, m.reason]);
  if (!isDeepStrictEqual(line(a), line(b))) return `start line ${JSON.stringify(line(a))} became ${JSON.stringify(line(b))}`;
  const fields = (m: SipMessage): string[][] => m.headers.fields.filter((f) => !isContentLength(f.name)).map((f) => [f.name, f.value]);
  if (!isDeepStrictEqual(fields(a), fields(b))) return `headers changed: ${JSON.stringify(fields(a)).slice(0, 300)} vs ${JSON.stringify(fields(b)).slice(0, 300)}`;
  if (!a.body.equals(b.body)) return `body of ${a.body.length} bytes became ${b.body.length} bytes`;
  return null;
}

/** serializeMessage(m) must succeed and parse back to the same message. */
function roundTrip(m: SipMessage): void {
  let bytes: Buffer;
  try {
    bytes = serializeMessage(m);
  } catch (err) {
    if (err instanceof SipSerializeError) throw new OracleViolation(`parsed message cannot be serialized: ${err.message}`);
    throw err;
  }
  const again = parseDatagram(bytes);
  check(again.ok, `re-serialized message does not parse: ${again.ok ? '' : again.error.message}`);
  const diff = messageDiff(m, again.message);
  check(diff === null, `round trip changed the message: ${diff}`);
}

/** A request we could parse (even only for salvage) must be answerable: the stack sends 400 from it. */
function answerable(m: SipMessage | undefined): void {
  if (m?.kind !== 'request') return;
  try {
    serializeMessage(createResponse(m, 400));
  } catch (err) {
    if (err instanceof SipSerializeError) throw new OracleViolation(`cannot answer the request: ${err.message}`);
    throw err;
  }
}

const SIP_DICTIONARY = [
  '\r\n', '\r\n\r\n', ': ', ';', ',', '<', '>', '"', '\\', '%', '%00', '%zz', '@', '[', ']', ':', 'sip:', 'sips:', 'tel:',
  'SIP/2.0', 'SIP/2.0/UDP ', 'Via: ', 'v: ', 'Content-Length: ', 'l: ', 'CSeq: ', 'Call-ID: ', 'From: ', 'To: ', ';tag=',
  ';branch=z9hG4bK', ';rport', ';received=', 'Contact: ', 'Max-Forwards: ', 'Require: ', 'Content-Type: ', 'INVITE', 'ACK',
  'REGISTER', ' ', '\t', '\r\n ', 'Authorization: Digest ', 'username=', 'realm=', 'nonce=', 'qop=auth', 'nc=', '=',
];

export const sipDatagram: FuzzTarget = {
  name: 'sip-datagram',
  seeds: seeds.sipMessageSeeds(),
  dictionary: SIP_DICTIONARY,
  run(input) {
    const r = parseDatagram(input);
    if (!r.ok) {
      check(r.error instanceof SipParseError && r.error.status >= 400 && r.error.status < 600, 'parse error without a 4xx/5xx status');
      answerable(r.request);
      return;
    }
    check(r.consumed <= input.length, 'consumed beyond the datagram');
    roundTrip(r.message);
    answerable(r.message);
  },
};

function framerEvents(input: Buffer, cuts: readonly number[], max: number): FramerEvent[] {
  const framer = new StreamFramer({ maxMessageBytes: max });
  const events: FramerEvent[] = [];
  let at = 0;
  for (const cut of [...cuts, input.length]) {
    events.push(...framer.push(input.subarray(at, cut)));
    at = cut;
    // Memory bound: whatever is left waiting is an incomplete message no larger than the limit.
    check(framer.bufferedBytes <= max, `framer holds ${framer.bufferedBytes} bytes with a ${max}-byte limit`);
  }
  return events;
}

function eventSummary(e: FramerEvent): string {
  if (e.type === 'error') return `error ${e.error.status} fatal=${e.fatal}`;
  return `message ${serializeMessage(e.message).toString('latin1')}`;
}

export const sipStream: FuzzTarget = {
  name: 'sip-stream',
  seeds: seeds.sipStreamSeeds(),
  dictionary: SIP_DICTIONARY,
  run(input, rng) {
    const max = rng.pick([512, 4096, 64 * 1024]);
    const cuts: number[] = [];
    for (let at = 0; at < input.length; ) {
      at += rng.chance(0.3) ? 1 : 1 + rng.int(Math.max(1, Math.min(input.length, 700)));
      if (at < input.length) cuts.push(at);
    }
    const whole = framerEvents(input, [], max);
    const chunked = framerEvents(input, cuts, max);
    for (const e of whole) {
      if (e.type === 'message') roundTrip(e.message);
      else answerable(e.request);
    }
    const a = whole.map(eventSummary);
    const b = chunked.map(eventSummary);
    check(isDeepStrictEqual(a, b), `chunking changed the events: ${JSON.stringify(a).slice(0, 300)} vs ${JSON.stringify(b).slice(0, 300)}`);
  },
};

const VALIDATOR_OPTIONS = { supportedExtensions: ['100rel', 'replaces', 'timer'], acceptedContentTypes: { INVITE: ['application/sdp'] }, allowedMethods: ['INVITE', 'ACK', 'BYE'] };

export const sipValidator: FuzzTarget = {
  name: 'sip-validator',
  seeds: seeds.sipMessageSeeds(),
  dictionary: SIP_DICTIONARY,
  run(input) {
    const r = parseDatagram(input);
    if (!r.ok) return;
    if (r.message.kind === 'response') {
      isResponseAcceptable(r.message);
      return;
    }
    const rejection = validateRequest(r.message, VALIDATOR_OPTIONS);
    if (rejection) {
      check(Number.isInteger(rejection.status) && rejection.status >= 400 && rejection.status < 700, `bad rejection status ${rejection.status}`);
      const res = createResponse(r.message, rejection.status, rejection.reason);
      for (const h of rejection.headers ?? []) res.headers.append(h.name, h.value);
      allowing([], () => serializeMessage(res));
    } else {
      // Accepted: the headers the validator vouched for must be usable by the layers above.
      allowing([SipParseError], () => getVias(r.message.headers));
      check(parseCSeq(r.message.headers.get('CSeq') ?? '') !== null, 'accepted request with an unparseable CSeq');
    }
  },
};

// ---- header values, URIs, digest ---------------------------------------------------------------

const HEADER_DICTIONARY = [';', ',', '"', '\\', '<', '>', '=', ':', '[', ']', '[::1]', 'SIP', '/', '2.0', 'UDP', ' ', '\t', ';branch=z9hG4bK', ';rport', ';rport=', ';received=', ';tag=', ';maddr=', '%41', '%', 'sip:', 'tel:', '?', '&', '@', '65535', '65536', '\u00e9', '\u0000'];

export const headerValues: FuzzTarget = {
  name: 'header-values',
  seeds: [...seeds.headerValueSeeds(['via', 'v', 'from', 'f', 'to', 't', 'contact', 'm', 'route', 'record-route', 'cseq']), Buffer.from('SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bKx;received=[::1]')],
  dictionary: HEADER_DICTIONARY,
  run(input) {
    const value = text(input);
    const pieces = splitHeaderValues(value);
    check(pieces.every((p) => typeof p === 'string'), 'split produced a non-string');
    for (const piece of [value, ...pieces]) {
      const via = parseVia(piece);
      if (via) {
        const formatted = formatVia(via);
        const again = parseVia(formatted);
        // Same meaning (rport=050 is written 50), and formatting is a fixpoint.
        const meaning = (v: typeof via): unknown[] => [v.protocol, v.transport, v.host, v.port, v.branch, v.received, v.rport, v.hasRport, [...v.params.keys()]];
        check(again !== null && isDeepStrictEqual(meaning(again), meaning(via)) && formatVia(again) === formatted, `Via round trip failed: ${JSON.stringify(piece).slice(0, 200)} -> ${JSON.stringify(formatted).slice(0, 200)}`);
      }
      const na = parseNameAddr(piece);
      // CR/LF never reach a header value (the parser unfolds and refuses them); the formatter drops them.
      if (na && !/[\r\n]/.test(piece)) {
        const formatted = formatNameAddr(na);
        const again = parseNameAddr(formatted);
        check(again !== null && isDeepStrictEqual(again, na), `name-addr round trip failed: ${JSON.stringify(piece).slice(0, 200)} -> ${JSON.stringify(formatted).slice(0, 200)}`);
      }
      const cseq = parseCSeq(piece);
      if (cseq) {
        check(Number.isInteger(cseq.seq) && cseq.seq >= 0 && cseq.seq <= 0x7fffffff, `CSeq number out of range: ${cseq.seq}`);
        check(isDeepStrictEqual(parseCSeq(`${cseq.seq} ${cseq.method}`), cseq), 'CSeq round trip failed');
      }
    }
  },
};

export const sipUri: FuzzTarget = {
  name: 'uri',
  seeds: seeds.uriSeeds(),
  dictionary: HEADER_DICTIONARY,
  run(input) {
    const uri = parseUri(text(input));
    if (!uri) return;
    check(uri.port === null || (Number.isInteger(uri.port) && uri.port >= 0 && uri.port <= 65535), `port out of range: ${uri.port}`);
    const formatted = formatUri(uri);
    check(!/[\u0000-\u0020\u007f<>"]/.test(formatted), `formatted URI has a delimiter: ${JSON.stringify(formatted).slice(0, 200)}`);
    const again = parseUri(formatted);
    check(again !== null && isDeepStrictEqual(again, uri), `URI round trip failed: ${JSON.stringify(text(input)).slice(0, 200)} -> ${JSON.stringify(formatted).slice(0, 200)}`);
  },
};

export const digest: FuzzTarget = {
  name: 'digest',
  seeds: seeds.digestSeeds(),
  dictionary: ['Digest ', 'realm=', 'nonce=', 'username=', 'uri=', 'response=', 'algorithm=', 'MD5', 'SHA-256', 'qop=', 'auth', 'auth-int', 'nc=', '00000001', 'cnonce=', 'opaque=', 'stale=', '"', '\\', ',', ' ', '\t', '='],
  run(input) {
    const value = text(input);
    parseCredentials(value);
    pickChallenge([value, value]);
    const challenge = parseChallenge(value);
    if (!challenge) return;
    // Answering a challenge we parsed must give credentials we parse back to the same fields.
    const header = authorizationFor(challenge, { username: 'al"i\\ce', password: 'pw' }, 'INVITE', 'sip:bob@127.0.0.1', 1);
    const creds = parseCredentials(header);
    check(creds !== null, `our own Authorization does not parse: ${header.slice(0, 200)}`);
    const got = [creds.username, creds.realm, creds.nonce, creds.uri, creds.algorithm, creds.opaque];
    const want = ['al"i\\ce', challenge.realm, challenge.nonce, 'sip:bob@127.0.0.1', challenge.algorithm, challenge.opaque];
    check(isDeepStrictEqual(got, want), `Authorization round trip: ${JSON.stringify(want).slice(0, 200)} became ${JSON.stringify(got).slice(0, 200)}`);
  },
};

// ---- SDP ------------------------------------------------------------------------------------------

const SDP_DICTIONARY = ['\r\n', '\n', 'v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=', 'c=IN IP4 ', 'c=IN IP6 ::1', '0.0.0.0', 't=0 0', 'm=audio ', 'm=video 0 RTP/AVP 96', ' RTP/AVP ', ' RTP/AVPF ', 'a=rtpmap:', 'PCMU/8000', 'PCMA/8000/1', 'telephone-event/8000', 'a=fmtp:101 0-16', 'a=ptime:', 'a=sendonly', 'a=recvonly', 'a=inactive', 'b=AS:64', '/2', ' ', '\t', '\u000b', '\u00a0'];

function checkAudio(a: NegotiatedAudio, where: string): void {
  check(Number.isInteger(a.payloadType) && a.payloadType >= 0 && a.payloadType <= 127, `${where}: payload type ${a.payloadType} is not a 7-bit RTP payload type`);
  const te = a.telephoneEventPayloadType;
  check(te === null || (Number.isInteger(te) && te >= 0 && te <= 127), `${where}: telephone-event payload type ${te}`);
  check(Number.isFinite(a.ptime) && a.ptime > 0, `${where}: ptime ${a.ptime}`);
  check(Number.isInteger(a.remotePort) && a.remotePort > 0 && a.remotePort <= 65535, `${where}: remote port ${a.remotePort}`);
}

export const sdp: FuzzTarget = {
  name: 'sdp',
  seeds: seeds.sdpSeeds(),
  dictionary: SDP_DICTIONARY,
  run(input) {
    const sd = allowing([SdpParseError], () => parseSdp(text(input)));
    if (!sd) return;
    const once = serializeSdp(sd);
    const reparsed = allowing([SdpParseError], () => parseSdp(once));
    check(reparsed !== undefined, `serialized SDP does not parse: ${JSON.stringify(once).slice(0, 300)}`);
    // Serialization puts lines in RFC order, so parse∘serialize is a fixpoint after one step.
    const twice = serializeSdp(reparsed);
    check(twice === once, `SDP round trip is not stable: ${JSON.stringify(once).slice(0, 300)} vs ${JSON.stringify(twice).slice(0, 300)}`);
  },
};

const LOCAL = { address: '127.0.0.1', port: 40000, sessionId: '1', sessionVersion: 1 };

export const offerAnswer: FuzzTarget = {
  name: 'offer-answer',
  seeds: seeds.sdpSeeds(),
  dictionary: SDP_DICTIONARY,
  run(input) {
    const sdpText = text(input);
    const r = answerOffer(sdpText, LOCAL);
    if (r.ok) {
      checkAudio(r.audio, 'answerOffer');
      // Our answer, read back as the offerer would read it, names the codec we chose.
      const back = allowing([SdpParseError], () => readAnswer(r.answer));
      check(back != null, `our answer is not readable: ${JSON.stringify(r.answer).slice(0, 300)}`);
      check(back.codec === r.audio.codec && back.payloadType === r.audio.payloadType, `answer names ${back.codec}/${back.payloadType}, negotiated ${r.audio.codec}/${r.audio.payloadType}`);
    } else {
      check(r.status === 488 && typeof r.reason === 'string', 'rejection is not a 488');
    }
    const read = allowing([SdpParseError], () => readAnswer(sdpText, ['PCMA', 'PCMU']));
    if (read) checkAudio(read, 'readAnswer');
  },
};

// ---- TwiML and JSON verbs -------------------------------------------------------------------------

/** Every `say` verb with SSML, at any depth (Gather prompts...). */
function ssmlSays(node: unknown, out: { text: string; ssml: string }[] = []): { text: string; ssml: string }[] {
  if (Array.isArray(node)) for (const c of node) ssmlSays(c, out);
  else if (node !== null && typeof node === 'object') {
    const o = node as Record<string, unknown>;
    if (o.verb === 'say' && typeof o.ssml === 'string' && typeof o.text === 'string') out.push({ text: o.text, ssml: o.ssml });
    for (const v of Object.values(o)) if (typeof v === 'object') ssmlSays(v, out);
  }
  return out;
}

function checkDocument(doc: { verbs: unknown[]; warnings: unknown[] }): void {
  check(Array.isArray(doc.verbs) && Array.isArray(doc.warnings), 'reader returned no verbs/warnings arrays');
  JSON.stringify(doc); // the model is plain data: a cycle or a BigInt would throw here
  for (const say of ssmlSays(doc.verbs)) {
    // The canonical SSML must read back to itself and to the same spoken text.
    const again = allowing([VerbDocumentError], () => readSsmlFragment(say.ssml));
    // The verb's text has its whitespace collapsed by the builder; compare it the same way.
    const collapse = (t: string): string => t.replace(/\s+/g, ' ').trim();
    check(again !== undefined && again.ssml === say.ssml && collapse(again.text) === collapse(say.text), `SSML not canonical: ${say.ssml.slice(0, 200)}`);
  }
}

export const twiml: FuzzTarget = {
  name: 'twiml',
  seeds: seeds.twimlSeeds(),
  dictionary: ['<Response>', '</Response>', '<Say>', '</Say>', '<Gather>', '</Gather>', '<Dial>', '</Dial>', '<Number>', '<Sip>', '<Play>', '<Pause length="1"/>', '<Redirect>', '<Stream url="wss://x"/>', '<Connect>', '<Parameter name="a" value="b"/>', '<speak>', '<break time="1s"/>', '<say-as interpret-as="digits">', '<![CDATA[', ']]>', '<!--', '-->', '<?xml version="1.0"?>', '&amp;', '&#x0;', '&#1114112;', '&#xD800;', '&unknown;', '&', '<', '>', '"', "'", ' loop="', ' action="', ' timeout="', ' numDigits="', ' method="', '/>', '<!DOCTYPE'],
  run(input) {
    const doc = allowing([VerbDocumentError], () => readTwiml(text(input)));
    if (doc) checkDocument(doc);
  },
};

export const jsonVerbs: FuzzTarget = {
  name: 'json-verbs',
  seeds: seeds.jsonVerbSeeds(),
  json: true,
  dictionary: ['verb', 'verbs', 'say', 'play', 'pause', 'gather', 'dial', 'hangup', 'redirect', 'record', 'reject', 'connect', 'start', 'stop', 'refer', 'text', 'ssml', 'url', 'loop', 'length', 'timeout', 'numDigits', 'action', 'method', 'target', 'number', 'type', 'stream', 'streams', '<speak>x</speak>', 'https://127.0.0.1/x', '', '-1', '1e400'],
  run(input) {
    const doc = allowing([VerbDocumentError], () => readJsonVerbs(text(input)));
    if (doc) checkDocument(doc);
  },
};

// ---- Media Streams --------------------------------------------------------------------------------

const STREAM_INFO: StreamStartInfo = { streamSid: 'MZ1', accountSid: 'AC1', callSid: 'CA1', tracks: ['inbound'], customParameters: [] };

/** The dialect's reading of one app frame, and its mark echo, which must be JSON carrying the same name. */
function parseWith(dialect: StreamDialect, data: Buffer, isBinary: boolean): void {
  const frame = dialect.parse(data, isBinary);
  if (frame.kind === 'invalid') check(typeof frame.message === 'string', 'invalid frame without a message');
  if (frame.kind === 'audio') check(frame.pcm instanceof Int16Array, 'audio frame without samples');
  if (frame.kind === 'mark') {
    const echo = JSON.parse(String(dialect.mark(frame.name))) as { mark?: { name?: unknown }; name?: unknown };
    check((echo.mark?.name ?? echo.name) === frame.name, `mark echo lost the name ${JSON.stringify(frame.name)}`);
  }
}

export const mediaStreams: FuzzTarget = {
  name: 'media-streams',
  seeds: seeds.streamMessageSeeds(),
  json: true,
  dictionary: ['event', 'media', 'mark', 'clear', 'stop', 'start', 'streamSid', 'MZ1', 'MZ2', 'payload', 'name', 'AAAA', 'AA==', 'A===', '////', '-_', ''],
  run(input, rng) {
    for (const options of [{}, { expectedStreamSid: 'MZ1' }, { maxBytes: 64 }]) {
      const r = parseAppMessage(rng.chance(0.5) ? input : text(input), options);
      if (r.ok && 'expectedStreamSid' in options) check(r.message.streamSid === undefined || r.message.streamSid === 'MZ1', 'a foreign streamSid was accepted');
      if (!r.ok) check(typeof r.error.code === 'string', 'error without a code');
    }
    const twilio = new TwilioStreamDialect(STREAM_INFO);
    twilio.opening();
    parseWith(twilio, input, false);
    parseWith(twilio, input, true);
    const l16 = new L16StreamDialect(STREAM_INFO, rng.pick([8000, 16000, 24000] as const));
    parseWith(l16, input, false);
    // Binary audio in arbitrary chunk sizes (odd lengths carry a byte over to the next frame).
    for (let at = 0; at < input.length; ) {
      const n = 1 + rng.int(Math.min(input.length - at, 321));
      parseWith(l16, input.subarray(at, at + n), true);
      at += n;
    }
  },
};

export const ALL_TARGETS: readonly FuzzTarget[] = [sipDatagram, sipStream, sipValidator, headerValues, sipUri, digest, sdp, offerAnswer, twiml, jsonVerbs, mediaStreams];

