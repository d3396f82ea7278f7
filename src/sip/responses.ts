/**
 * Response building shared by the stack, IncomingInvite and dialogs: createResponse (§8.2.6.2)
 * plus caller-supplied headers, an optional body with its Content-Type, and the User-Agent/Server.
 */
import { createResponse, type HeaderField, type SipRequest, type SipResponse } from './message.js';

export interface ResponseOptions {
  reason?: string;
  headers?: HeaderField[];
  body?: Buffer;
  contentType?: string;
}

/** Function handed to listeners of in-dialog requests so they decide the final response. */
export type Responder = (status: number, opts?: ResponseOptions) => void;

export function buildResponse(req: SipRequest, status: number, opts: ResponseOptions = {}, toTag?: string, server?: string): SipResponse {
  const res = createResponse(req, status, opts.reason, toTag);
  if (server) res.headers.append('Server', server);
  if (opts.headers) for (const h of opts.headers) res.headers.append(h.name, h.value);
  if (opts.body && opts.body.length > 0) {
    res.body = opts.body;
    res.headers.set('Content-Type', opts.contentType ?? 'application/sdp');
  }
  return res;
}
