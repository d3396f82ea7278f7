/**
 * Generates SIPp caller scenarios that answer Patchbay's prompts with DTMF: RTP captures replayed
 * into the call (RFC 4733 events or in-band tones), SIP INFO requests, and pauses, then wait for
 * Patchbay's BYE. Written to a temp file because the steps (and capture paths) vary per test.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type DtmfStep = { pauseMs: number } | { pcap: string; durationMs: number } | { info: { contentType: string; body: string } };

export interface DtmfScenarioOptions {
  /** Offer telephone-event (PT 101) besides PCMU; without it only in-band tones can carry digits. */
  telephoneEvent: boolean;
  steps: DtmfStep[];
  /** Where Patchbay should send its RTP: SIPp's own media port (default) or a test socket. */
  rtpSinkPort?: number;
}

const uacHeaders = (method: string, cseq: string): string => `${method} sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: ${cseq}
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70`;

export function writeDtmfScenario(opts: DtmfScenarioOptions): string {
  const formats = opts.telephoneEvent ? '0 101' : '0';
  const port = opts.rtpSinkPort ?? '[media_port]';
  const te = opts.telephoneEvent ? '\n      a=rtpmap:101 telephone-event/8000\n      a=fmtp:101 0-16' : '';
  let cseq = 2;
  let label = 0;
  // A wait that Patchbay's BYE may cut short (the app can end the call before the caller is done).
  const wait = (ms: number): string => {
    const id = `w${label++}`;
    return `  <recv request="BYE" timeout="${ms}" ontimeout="${id}" next="bye"/>\n  <label id="${id}"/>`;
  };
  const steps = opts.steps
    .map((step) => {
      if ('pauseMs' in step) return wait(step.pauseMs);
      if ('pcap' in step) return `  <nop><action><exec play_pcap_audio="${step.pcap}"/></action></nop>\n${wait(step.durationMs)}`;
      const n = cseq++;
      return `  <send retrans="500">
    <![CDATA[
      ${uacHeaders('INFO', `${n} INFO`)}
      Content-Type: ${step.info.contentType}
      Content-Length: [len]

${step.info.body}
    ]]>
  </send>
  <recv response="200" timeout="5000"/>`;
    })
    .join('\n');
  const xml = `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="dtmf-caller">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:sipp@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=sipp 53655765 2353687637 IN IP4 127.0.0.1
      s=-
      c=IN IP4 127.0.0.1
      t=0 0
      m=audio ${port} RTP/AVP ${formats}
      a=rtpmap:0 PCMU/8000${te}

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rtd="true" timeout="30000"/>
  <send>
    <![CDATA[
      ${uacHeaders('ACK', '1 ACK')}
      Content-Length: 0
    ]]>
  </send>
${steps}
  <recv request="BYE" timeout="30000"/>
  <label id="bye"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:sipp@[local_ip]:[local_port]>
      Content-Length: 0
    ]]>
  </send>
  <timewait milliseconds="200"/>
</scenario>
`;
  const path = join(mkdtempSync(join(tmpdir(), 'dtmf-scenario-')), 'scenario.xml');
  writeFileSync(path, xml);
  return path;
}
