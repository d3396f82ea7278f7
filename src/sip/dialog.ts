/**
 * SIP dialogs (RFC 3261 §12) for both roles, with the UAS 2xx/ACK reliability of §13.3.1.4 and
 * the in-dialog request handling of §12.2.2, §14 (re-INVITE) and §15 (BYE), plus REFER (RFC 3515)
 * and NOTIFY (RFC 6665) handed to listeners.
 *
 * A Dialog holds the dialog state (Call-ID, tags, local/remote URI, remote target, route set,
 * local/remote CSeq), builds in-dialog requests (§12.2.1.1, loose and strict routing) and turns
 * inbound in-dialog requests into events. Sending goes through a `DialogHost` (the stack), which
 * adds the Via and runs the client transaction.
 */
import { EventEmitter } from 'node:events';
import type { Clock, TimerHandle } from './clock.js';
import { getTag, parseCSeq, parseNameAddr, splitHeaderValues } from './header-values.js';
import { createRequest, type HeaderField, type SipAddress, type SipRequest, type SipResponse } from './message.js';
import { buildResponse, type Responder, type ResponseOptions } from './responses.js';
import type { TimerConfig } from './transaction-timers.js';
import { parseUri } from './uri.js';

/** In-dialog requests that carry a Contact. */
const CONTACT_METHODS = new Set(['INVITE', 'UPDATE', 'REFER', 'NOTIFY', 'SUBSCRIBE']);

export type DialogState = 'confirmed' | 'terminated';
export type DialogRole = 'uac' | 'uas';

export interface DialogEvents {
  ack: [ack: SipRequest];
  'ack-timeout': [];
  bye: [req: SipRequest];
  reinvite: [req: SipRequest, respond: Responder];
  info: [req: SipRequest, respond: Responder];
  options: [req: SipRequest, respond: Responder];
  /** In-dialog REFER (RFC 3515); without a listener it is refused with 405. */
  refer: [req: SipRequest, respond: Responder];
  /** In-dialog NOTIFY (RFC 6665, e.g. REFER progress); without a listener: 481, no subscription. */
  notify: [req: SipRequest, respond: Responder];
  terminated: [reason: 'bye-received' | 'bye-sent' | 'ack-timeout' | 'request-failed' | 'stack-stopped'];
}

/** What a dialog needs from the stack. */
export interface DialogHost {
  readonly clock: Clock;
  readonly timers: TimerConfig;
  readonly userAgent?: string;
  /** Methods for the Allow header of a 405 (§8.2.1). */
  readonly allowedMethods?: readonly string[];
  contact(transport: SipAddress['transport']): string;
  /** Adds a Via, runs a client transaction; resolves with the final response, or null on timeout/transport error. */
  request(req: SipRequest, dest: SipAddress): Promise<SipResponse | null>;
  /** Sends an ACK for a 2xx outside any transaction (§13.2.2.4), adding a Via. */
  sendAck(ack: SipRequest, dest: SipAddress): void;
  forget(dialog: Dialog): void;
}

/** How the stack lets a dialog answer an inbound request. */
export interface InboundContext {
  /** Sends through the server transaction. */
  reply(res: SipResponse): void;
  /** Re-sends a 2xx to INVITE directly on the transport (§13.3.1.4 retransmissions). */
  resend(res: SipResponse): void;
}

export interface DialogInit {
  role: DialogRole;
  callId: string;
  localTag: string;
  remoteTag: string;
  /** Our From (UAC) / To (UAS) header value, tag included. */
  localUri: string;
  remoteUri: string;
  remoteTarget: string;
  routeSet: string[];
  localSeq: number;
  remoteSeq: number | null;
  transport: SipAddress['transport'];
}

/** Splits every Record-Route line into its name-addr values, in order. */
function recordRoutes(msg: SipRequest | SipResponse): string[] {
  const out: string[] = [];
  for (const line of msg.headers.getAll('record-route')) out.push(...splitHeaderValues(line));
  return out;
}

function contactUri(msg: SipRequest | SipResponse): string | null {
  const c = msg.headers.get('contact');
  if (c === undefined) return null;
  return parseNameAddr(splitHeaderValues(c)[0] ?? c)?.uri ?? null;
}

/** UAS dialog state from the INVITE and the 2xx we send (§12.1.1). */
export function uasDialogInit(req: SipRequest, res: SipResponse, transport: SipAddress['transport']): DialogInit | null {
  const to = res.headers.get('to');
  const from = req.headers.get('from');
  const cseq = parseCSeq(req.headers.get('cseq') ?? '');
  const target = contactUri(req);
  const localTag = to ? getTag(to) : null;
  const remoteTag = from ? getTag(from) : null;
  if (!to || !from || !cseq || !target || !localTag) return null;
  return {
    role: 'uas', callId: req.headers.get('call-id') ?? '', localTag, remoteTag: remoteTag ?? '', localUri: to, remoteUri: from,
    remoteTarget: target, routeSet: recordRoutes(req), localSeq: 0, remoteSeq: cseq.seq, transport,
  };
}

/** UAC dialog state from our INVITE and the 2xx received (§12.1.2): route set is Record-Route reversed. */
export function uacDialogInit(req: SipRequest, res: SipResponse, transport: SipAddress['transport']): DialogInit | null {
  const to = res.headers.get('to');
  const from = req.headers.get('from');
  const cseq = parseCSeq(req.headers.get('cseq') ?? '');
  const target = contactUri(res);
  const localTag = from ? getTag(from) : null;
  const remoteTag = to ? getTag(to) : null;
  if (!to || !from || !cseq || !target || !localTag || !remoteTag) return null;
  return {
    role: 'uac', callId: req.headers.get('call-id') ?? '', localTag, remoteTag, localUri: from, remoteUri: to,
    remoteTarget: target, routeSet: recordRoutes(res).reverse(), localSeq: cseq.seq, remoteSeq: null, transport,
  };
}

/** Where to send a request for `uri` (§8.1.2; no RFC 3263 DNS: hosts are used as given). */
export function uriAddress(uri: string, fallback: SipAddress['transport']): SipAddress | null {
  const u = parseUri(uri);
  if (!u || (u.scheme !== 'sip' && u.scheme !== 'sips') || !u.host) return null;
  const t = u.params.get('transport')?.toLowerCase();
  const transport: SipAddress['transport'] = t === 'udp' || t === 'tcp' || t === 'tls' || t === 'ws' || t === 'wss' ? t : u.scheme === 'sips' ? 'tls' : fallback;
  return { transport, host: u.host, port: u.port ?? (transport === 'tls' ? 5061 : 5060) };
}

export function dialogKey(callId: string, localTag: string, remoteTag: string): string {
  return `${callId}|${localTag}|${remoteTag}`;
}

export class Dialog extends EventEmitter<DialogEvents> {
  readonly role: DialogRole;
  readonly callId: string;
  readonly localTag: string;
  readonly remoteTag: string;
  readonly localUri: string;
  readonly remoteUri: string;
  readonly transport: SipAddress['transport'];
  readonly routeSet: string[];
  /** Remote target URI (Contact of the peer), updated by target refreshes (§12.2). */
  private target: string;
  private localSeqValue: number;
  private remoteSeqValue: number | null;
  private stateValue: DialogState = 'confirmed';
  private ackWait: { cseq: number; retransmit: TimerHandle | null; deadline: TimerHandle } | null = null;
  /** ACK we sent for our INVITE's 2xx, re-sent when the 2xx is retransmitted (§13.2.2.4). */
  private lastAck: { cseq: number; ack: SipRequest; dest: SipAddress } | null = null;
  private inviteServerPending = false;
  private inviteClientPending = false;

  constructor(private readonly host: DialogHost, init: DialogInit) {
    super();
    this.role = init.role;
    this.callId = init.callId;
    this.localTag = init.localTag;
    this.remoteTag = init.remoteTag;
    this.localUri = init.localUri;
    this.remoteUri = init.remoteUri;
    this.target = init.remoteTarget;
    this.routeSet = init.routeSet;
    this.localSeqValue = init.localSeq;
    this.remoteSeqValue = init.remoteSeq;
    this.transport = init.transport;
  }

  get remoteTarget(): string {
    return this.target;
  }

  get localSeq(): number {
    return this.localSeqValue;
  }

  get remoteSeq(): number | null {
    return this.remoteSeqValue;
  }

  get state(): DialogState {
    return this.stateValue;
  }

  get key(): string {
    return dialogKey(this.callId, this.localTag, this.remoteTag);
  }

  /** Builds an in-dialog request (§12.2.1.1). CSeq is incremented except for ACK/CANCEL. */
  createRequest(method: string, opts: { headers?: HeaderField[]; body?: Buffer; contentType?: string; cseq?: number } = {}): SipRequest {
    let uri = this.target;
    let routes = this.routeSet;
    const first = routes[0] !== undefined ? parseNameAddr(routes[0]) : null;
    if (first && !parseUri(first.uri)?.params.has('lr')) {
      // Strict routing (§12.2.1.1): the first route becomes the Request-URI, the target goes last.
      uri = first.uri;
      routes = [...routes.slice(1), `<${this.target}>`];
    }
    const seq = opts.cseq ?? (method === 'ACK' || method === 'CANCEL' ? this.localSeqValue : ++this.localSeqValue);
    const fields: HeaderField[] = [];
    for (const r of routes) fields.push({ name: 'Route', value: r });
    fields.push(
      { name: 'Max-Forwards', value: '70' },
      { name: 'From', value: this.localUri },
      { name: 'To', value: this.remoteUri },
      { name: 'Call-ID', value: this.callId },
      { name: 'CSeq', value: `${seq} ${method}` },
    );
    // Target-refresh and subscription requests name our Contact (RFC 3261 §12.2.1.1, RFC 3515 §2.4.1, RFC 6665 §4.1.2).
    if (CONTACT_METHODS.has(method)) fields.push({ name: 'Contact', value: `<${this.host.contact(this.transport)}>` });
    if (this.host.userAgent) fields.push({ name: 'User-Agent', value: this.host.userAgent });
    if (opts.headers) fields.push(...opts.headers);
    const req = createRequest(method, uri, fields, opts.body ?? Buffer.alloc(0));
    if (opts.body && opts.body.length > 0) req.headers.append('Content-Type', opts.contentType ?? 'application/sdp');
    return req;
  }

  /** Next hop for in-dialog requests: the first route if any, else the remote target (§8.1.2). */
  destination(): SipAddress | null {
    const first = this.routeSet[0] !== undefined ? parseNameAddr(this.routeSet[0]) : null;
    return uriAddress(first ? first.uri : this.target, this.transport);
  }

  /** Sends an in-dialog request; an INVITE 2xx is ACKed here. Null on timeout or transport failure. */
  async sendRequest(method: string, opts: { headers?: HeaderField[]; body?: Buffer; contentType?: string } = {}): Promise<SipResponse | null> {
    if (this.stateValue === 'terminated') return null;
    if (method === 'INVITE') {
      if (this.inviteClientPending || this.inviteServerPending) return null; // §14.1: one re-INVITE at a time
      this.inviteClientPending = true;
    }
    const req = this.createRequest(method, opts);
    const dest = this.destination();
    const res = dest ? await this.host.request(req, dest) : null;
    if (method === 'INVITE') {
      this.inviteClientPending = false;
      if (res && res.status >= 200 && res.status < 300 && dest) {
        const target = contactUri(res);
        if (target) this.target = target; // target refresh (§12.2.1.2)
        const seq = parseCSeq(req.headers.get('cseq') ?? '')?.seq ?? this.localSeqValue;
        this.ackInvite(seq);
      }
    }
    // §12.2.1.2: 481 or 408 (and no answer at all) end the dialog. A NOTIFY's 481 only ends its
    // subscription, not the dialog it shares with the call (RFC 5057 §5.6, RFC 6665 §4.1.3).
    const usageOnly = method === 'NOTIFY' && res !== null && res.status === 481;
    if (method !== 'BYE' && !usageOnly && (!res || res.status === 481 || res.status === 408)) this.terminate('request-failed');
    return res;
  }

  /** Sends BYE (§15.1.1); the dialog is terminated whatever the outcome. */
  async sendBye(): Promise<SipResponse | null> {
    if (this.stateValue === 'terminated') return null;
    this.stopAckWait();
    const pending = this.sendRequest('BYE');
    this.terminate('bye-sent');
    return pending;
  }

  /** An in-dialog request (not ACK) routed here by the stack, after the CSeq check of §12.2.2. */
  handleRequest(req: SipRequest, ctx: InboundContext): void {
    const reply = (status: number, opts?: ResponseOptions): void => ctx.reply(buildResponse(req, status, opts, undefined, this.host.userAgent));
    const cseq = parseCSeq(req.headers.get('cseq') ?? '');
    if (!cseq) return reply(400, { reason: 'Bad CSeq' });
    if (this.remoteSeqValue !== null && cseq.seq < this.remoteSeqValue) return reply(500, { reason: 'CSeq Out Of Order' });
    this.remoteSeqValue = cseq.seq;
    if (this.stateValue === 'terminated' && req.method !== 'BYE') return reply(481);
    switch (req.method) {
      case 'BYE':
        reply(200);
        this.stopAckWait();
        this.emit('bye', req);
        this.terminate('bye-received');
        return;
      case 'INVITE':
        return this.handleReinvite(req, cseq.seq, ctx);
      case 'INFO':
      case 'OPTIONS':
      case 'REFER':
      case 'NOTIFY': {
        const event = ({ INFO: 'info', OPTIONS: 'options', REFER: 'refer', NOTIFY: 'notify' } as const)[req.method];
        let answered = false;
        const respond: Responder = (status, opts) => {
          if (answered) return;
          answered = true;
          reply(status, opts);
        };
        if (this.listenerCount(event) > 0) return void this.emit(event, req, respond);
        if (event === 'refer') return respond(405, { headers: [this.allowHeader(['REFER'])] });
        if (event === 'notify') return respond(481); // RFC 6665 §4.1.3: no subscription here
        return respond(200);
      }
      default:
        return reply(405, { headers: [this.allowHeader([])] });
    }
  }

  /** Allow for a 405: what the stack allows, minus what this dialog does not handle. */
  private allowHeader(without: string[]): HeaderField {
    const methods = (this.host.allowedMethods ?? ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'INFO']).filter((m) => !without.includes(m));
    return { name: 'Allow', value: methods.join(', ') };
  }

  /** ACK for a 2xx we sent (initial INVITE or re-INVITE). */
  receiveAck(ack: SipRequest): void {
    const seq = parseCSeq(ack.headers.get('cseq') ?? '')?.seq;
    if (!this.ackWait || seq !== this.ackWait.cseq) return; // a retransmitted ACK: already handled
    this.stopAckWait();
    this.emit('ack', ack);
  }

  /** A retransmitted 2xx to our INVITE: re-send the same ACK (§13.2.2.4). */
  receive2xxRetransmission(res: SipResponse): void {
    const seq = parseCSeq(res.headers.get('cseq') ?? '')?.seq;
    if (this.lastAck && seq === this.lastAck.cseq) this.host.sendAck(this.lastAck.ack, this.lastAck.dest);
  }

  /**
   * §13.3.1.4: retransmit our 2xx at T1, 2*T1... capped at T2 until the ACK arrives; after 64*T1
   * emit 'ack-timeout' (and, if nobody listens, end the session with BYE as the RFC recommends).
   */
  startAckWait(res: SipResponse, cseq: number, resend: (res: SipResponse) => void): void {
    this.stopAckWait();
    const { clock, timers } = this.host;
    let interval = timers.t1;
    const wait = { cseq, retransmit: null as TimerHandle | null, deadline: clock.setTimeout(() => this.ackTimeout(), 64 * timers.t1) };
    const tick = (): void => {
      resend(res);
      interval = Math.min(2 * interval, timers.t2);
      wait.retransmit = clock.setTimeout(tick, interval);
    };
    wait.retransmit = clock.setTimeout(tick, interval);
    this.ackWait = wait;
  }

  /** Ends the dialog without signalling (stack shutdown) or after the BYE exchange. */
  terminate(reason: DialogEvents['terminated'][0]): void {
    if (this.stateValue === 'terminated') return;
    this.stateValue = 'terminated';
    this.stopAckWait();
    this.host.forget(this);
    this.emit('terminated', reason);
  }

  /** Sends (and remembers) the ACK for a 2xx to our INVITE with CSeq `cseq` (§13.2.2.4). */
  ackInvite(cseq: number): void {
    const dest = this.destination();
    if (!dest) return;
    const ack = this.createRequest('ACK', { cseq });
    this.lastAck = { cseq, ack, dest };
    this.host.sendAck(ack, dest);
  }

  private handleReinvite(req: SipRequest, cseq: number, ctx: InboundContext): void {
    const reply = (status: number, opts?: ResponseOptions): SipResponse => {
      const res = buildResponse(req, status, opts, undefined, this.host.userAgent);
      if (status >= 200 && status < 300 && !res.headers.has('contact')) res.headers.append('Contact', `<${this.host.contact(this.transport)}>`);
      ctx.reply(res);
      return res;
    };
    // §14.2: glare with our own re-INVITE → 491; a second one while the first is open → 500.
    if (this.inviteClientPending) return void reply(491);
    if (this.inviteServerPending) return void reply(500, { headers: [{ name: 'Retry-After', value: '1' }] });
    if (this.listenerCount('reinvite') === 0) return void reply(488);
    this.inviteServerPending = true;
    let answered = false;
    const respond: Responder = (status, opts) => {
      if (answered || this.stateValue === 'terminated') return;
      if (status >= 200) {
        answered = true;
        this.inviteServerPending = false;
      }
      const res = reply(status, opts);
      if (status >= 200 && status < 300) {
        const target = contactUri(req);
        if (target) this.target = target; // target refresh (§12.2.2)
        this.startAckWait(res, cseq, ctx.resend);
      }
    };
    this.emit('reinvite', req, respond);
  }

  private ackTimeout(): void {
    if (this.ackWait) this.host.clock.clearTimeout(this.ackWait.deadline);
    this.stopAckWait();
    if (this.listenerCount('ack-timeout') > 0) this.emit('ack-timeout');
    else void this.sendBye();
  }

  private stopAckWait(): void {
    const w = this.ackWait;
    if (!w) return;
    if (w.retransmit) this.host.clock.clearTimeout(w.retransmit);
    this.host.clock.clearTimeout(w.deadline);
    this.ackWait = null;
  }
}
