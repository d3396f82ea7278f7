/** SDP offers captured from real peers, shared by the SDP and offer/answer tests. */

export const crlf = (lines: string[]): string => lines.join('\r\n') + '\r\n';

/** baresip 1.0.0's INVITE body, captured on this machine dialling a loopback listener. */
export const BARESIP_OFFER = crlf([
  'v=0',
  'o=- 1435856658 673730046 IN IP4 192.0.2.2',
  's=-',
  'c=IN IP4 192.0.2.2',
  't=0 0',
  'a=tool:baresip 1.0.0',
  'm=audio 21038 RTP/AVP 0 8 101',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
  'a=sendrecv',
  'a=label:1',
  'a=rtcp-rsize',
  'a=ssrc:2171208397 cname:sip:bot@127.0.0.1',
  'a=minptime:20',
  'a=ptime:20',
]);
