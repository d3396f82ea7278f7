/**
 * The standard voice request parameters Twilio sends with every document fetch, action and status
 * callback (reference §2.2), built from what the call engine knows about a call.
 */

export interface CallParamsInput {
  accountSid: string;
  callSid: string;
  from: string;
  to: string;
  callStatus: string;
  direction: 'inbound' | 'outbound-api' | 'outbound-dial';
  forwardedFrom?: string;
  parentCallSid?: string;
  callerName?: string;
  applicationSid?: string;
  /** SIP ingress: the INVITE's Call-ID. */
  sipCallId?: string;
  /** SIP ingress: the address the INVITE came from. */
  sipSourceIp?: string;
  /** SIP ingress: headers of the INVITE; only `X-` headers are forwarded, as `SipHeader_X-...`. */
  sipHeaders?: Record<string, string>;
  sipDomain?: string;
  sipUsername?: string;
}

export const API_VERSION = '2010-04-01';

export function buildCallParams(input: CallParamsInput): Record<string, string> {
  const params: Record<string, string> = {
    AccountSid: input.accountSid,
    ApiVersion: API_VERSION,
    CallSid: input.callSid,
    CallStatus: input.callStatus,
    // Caller/Called are legacy duplicates of From/To that Twilio still sends; old apps read them.
    Called: input.to,
    Caller: input.from,
    Direction: input.direction,
    From: input.from,
    To: input.to,
  };
  const optional: Array<[string, string | undefined]> = [
    ['ForwardedFrom', input.forwardedFrom],
    ['ParentCallSid', input.parentCallSid],
    ['CallerName', input.callerName],
    ['ApplicationSid', input.applicationSid],
    ['SipCallId', input.sipCallId],
    ['SipSourceIp', input.sipSourceIp],
    ['SipDomain', input.sipDomain],
    ['SipUsername', input.sipUsername],
  ];
  for (const [name, value] of optional) if (value !== undefined && value !== '') params[name] = value;
  for (const [name, value] of Object.entries(input.sipHeaders ?? {})) {
    // Header names are case-insensitive (RFC 3261 §7.3.1); the parameter keeps the name as received.
    if (/^x-/i.test(name)) params[`SipHeader_${name}`] = value;
  }
  return params;
}
