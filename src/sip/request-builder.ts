/**
 * Out-of-dialog requests as a UAC builds them (RFC 3261 §8.1.1): Request-URI, To, From with a
 * tag, Call-ID, CSeq, Max-Forwards, Contact, plus caller headers and body. The Via is added by the
 * stack when the request is sent (a new branch per transaction, §8.1.1.7).
 */
import { newCallId, newTag } from './ids.js';
import { createRequest, type HeaderField, type SipRequest } from './message.js';

export interface OutOfDialogRequestOptions {
  uri: string;
  /** From URI or name-addr, without tag. */
  from: string;
  /** To URI or name-addr (no tag: this is not a dialog request). */
  to: string;
  /** Default: a new Call-ID. REGISTER refreshes reuse theirs (§10.2). */
  callId?: string;
  /** Default 1. */
  cseq?: number;
  /** Default: a new tag. */
  fromTag?: string;
  /** Contact value; default the stack's own URI for the transport; null = no Contact. */
  contact?: string | null;
  headers?: HeaderField[];
  body?: Buffer;
  contentType?: string;
}

/** What the stack fills in. */
export interface RequestDefaults {
  /** Host part of generated Call-IDs. */
  host: string;
  /** Our Contact URI. */
  contact: string;
  userAgent: string;
  allow: readonly string[];
}

/** `sip:a@b` → `<sip:a@b>`; a value that already has angle brackets is kept. */
export function nameAddr(v: string): string {
  return v.includes('<') ? v : `<${v}>`;
}

export function buildOutOfDialogRequest(method: string, o: OutOfDialogRequestOptions, d: RequestDefaults): SipRequest {
  const fields: HeaderField[] = [
    { name: 'Max-Forwards', value: '70' },
    { name: 'From', value: `${nameAddr(o.from)};tag=${o.fromTag ?? newTag()}` },
    { name: 'To', value: nameAddr(o.to) },
    { name: 'Call-ID', value: o.callId ?? newCallId(d.host) },
    { name: 'CSeq', value: `${o.cseq ?? 1} ${method}` },
  ];
  if (o.contact !== null) fields.push({ name: 'Contact', value: o.contact ?? `<${d.contact}>` });
  // Allow in dialog-creating requests tells the peer what it may send us in the dialog (§20.5).
  if (method === 'INVITE') fields.push({ name: 'Allow', value: d.allow.join(', ') });
  fields.push({ name: 'User-Agent', value: d.userAgent });
  if (o.headers) fields.push(...o.headers);
  const body = o.body ?? Buffer.alloc(0);
  const req = createRequest(method, o.uri, fields, body);
  if (body.length > 0) req.headers.append('Content-Type', o.contentType ?? 'application/sdp');
  return req;
}
