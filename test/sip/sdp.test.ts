// SDP (RFC 4566) parsing and serialization, on offers captured from real peers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fmtpFor, getAttribute, mediaConnection, mediaDirection, parseSdp, rtpmaps, SdpParseError, serializeSdp } from '../../src/sip/sdp.js';

import { BARESIP_OFFER, crlf } from '../helpers/sdp-offers.js';


/** SIPp 3.6's built-in uac_pcap scenario body, keywords substituted. */
const SIPP_OFFER = crlf([
  'v=0',
  'o=user1 53655765 2353687637 IN IP4 127.0.0.1',
  's=-',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 6000 RTP/AVP 8 101',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-11,16',
]);

test('parses baresip\'s offer', () => {
  const sd = parseSdp(BARESIP_OFFER);
  assert.equal(sd.version, 0);
  assert.deepEqual(sd.origin, { username: '-', sessionId: '1435856658', sessionVersion: '673730046', netType: 'IN', addrType: 'IP4', address: '192.0.2.2' });
  assert.equal(sd.sessionName, '-');
  assert.deepEqual(sd.connection, { netType: 'IN', addrType: 'IP4', address: '192.0.2.2' });
  assert.equal(sd.timing, '0 0');
  assert.deepEqual(sd.attributes, ['tool:baresip 1.0.0']);
  assert.equal(sd.media.length, 1);
  const m = sd.media[0];
  assert.equal(m.type, 'audio');
  assert.equal(m.port, 21038);
  assert.equal(m.protocol, 'RTP/AVP');
  assert.deepEqual(m.formats, ['0', '8', '101']);
  assert.equal(m.connection, null);
  assert.equal(m.attributes.length, 10);
  assert.deepEqual(rtpmaps(m).get(101), { payloadType: 101, encoding: 'telephone-event', clockRate: 8000, channels: 1 });
  assert.equal(fmtpFor(m, 101), '0-15');
  assert.equal(getAttribute(m.attributes, 'ptime'), '20');
  assert.equal(getAttribute(m.attributes, 'rtcp-rsize'), '');
  assert.equal(getAttribute(m.attributes, 'rtcp'), undefined);
  assert.equal(mediaDirection(sd, m), 'sendrecv');
  assert.equal(mediaConnection(sd, m)?.address, '192.0.2.2');
});

test('parses SIPp\'s offer', () => {
  const sd = parseSdp(SIPP_OFFER);
  assert.equal(sd.origin.username, 'user1');
  assert.deepEqual(sd.media[0].formats, ['8', '101']);
  assert.equal(fmtpFor(sd.media[0], 101), '0-11,16');
});

test('serialize(parse(x)) reproduces real offers exactly, with CRLF', () => {
  assert.equal(serializeSdp(parseSdp(BARESIP_OFFER)), BARESIP_OFFER);
  assert.equal(serializeSdp(parseSdp(SIPP_OFFER)), SIPP_OFFER);
});

test('media-level c=, unknown lines, b=, multiple m-lines and LF-only input', () => {
  const text = [
    'v=0',
    'o=alice 2890844526 2890844527 IN IP6 2001:db8::1',
    's= ',
    'i=A session',
    't=0 0',
    'r=7d 1h 0 25h',
    'a=recvonly',
    'm=audio 49170/2 RTP/AVP 0',
    'c=IN IP6 2001:db8::2',
    'b=AS:64',
    'a=rtpmap:0 PCMU/8000',
    'x=an unknown line type',
    'm=video 51372 RTP/AVP 99',
    'a=rtpmap:99 h263-1998/90000',
    '',
  ].join('\n');
  const sd = parseSdp(text);
  assert.equal(sd.connection, null);
  assert.deepEqual(sd.otherLines, ['i=A session', 'r=7d 1h 0 25h']);
  const [audio, video] = sd.media;
  assert.equal(audio.port, 49170);
  assert.equal(audio.portCount, 2);
  assert.deepEqual(audio.connection, { netType: 'IN', addrType: 'IP6', address: '2001:db8::2' });
  assert.deepEqual(audio.otherLines, ['b=AS:64', 'x=an unknown line type']);
  assert.equal(mediaDirection(sd, audio), 'recvonly'); // session-level direction applies
  assert.equal(mediaConnection(sd, video), null);
  // RFC 4566 §5 order on output: i= before c=/t=, r= after t=, b= after c=, unknown before a=.
  assert.equal(
    serializeSdp(sd),
    crlf([
      'v=0',
      'o=alice 2890844526 2890844527 IN IP6 2001:db8::1',
      's= ',
      'i=A session',
      't=0 0',
      'r=7d 1h 0 25h',
      'a=recvonly',
      'm=audio 49170/2 RTP/AVP 0',
      'c=IN IP6 2001:db8::2',
      'b=AS:64',
      'x=an unknown line type',
      'a=rtpmap:0 PCMU/8000',
      'm=video 51372 RTP/AVP 99',
      'a=rtpmap:99 h263-1998/90000',
    ]),
  );
});

test('garbage throws SdpParseError with the line number', () => {
  const bad = (text: string, line?: number) =>
    assert.throws(
      () => parseSdp(text),
      (e: unknown) => e instanceof SdpParseError && e.code === 'SDP_PARSE' && (line === undefined || e.line === line),
    );
  bad('');
  bad('hello world', 1);
  bad('o=- 1 1 IN IP4 1.2.3.4\r\nv=0\r\n', 1); // v= must come first
  bad('v=0\r\ns=-\r\n'); // no o=
  bad('v=0\r\no=- 1 1 IN IP4\r\n', 2);
  bad('v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4\r\n', 4);
  bad('v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nm=audio abc RTP/AVP 0\r\n', 4);
  bad('v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nm=audio 70000 RTP/AVP 0\r\n', 4);
  bad('v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nINVITE sip:x SIP/2.0\r\n', 4);
});
