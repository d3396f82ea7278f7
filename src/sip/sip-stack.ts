/**
 * SipStack: the façade the call engine uses. Wires transport layer → transaction layer → UAS/UAC
 * cores and dialogs, and answers what an endpoint must answer on its own (RFC 3261 §8.2):
 * stateless 400 for unparseable requests, validator rejections, OPTIONS (§11.2), 405/501 with
 * Allow, 481 for unknown dialogs/transactions, CANCEL (§9.2), and 503 when the tables are full.
 * REGISTER is handed to 'register' listeners (a registrar above this layer); without one it is 405.
 * An optional SourceGuard drops floods and scanners before they reach any table; layers above
 * report wrong credentials with `reportAuthFailure`, and the guard's bans are re-emitted here.
 */
import { EventEmitter } from 'node:events';
import { systemClock, type Clock } from './clock.js';
import { ClientTransactionHandle } from './client-transaction-handle.js';
import type { ClientTransactionUser } from './client-invite-transaction.js';
import { Dialog, dialogKey, uacDialogInit, uasDialogInit, uriAddress, type DialogHost } from './dialog.js';
import { getTag, parseCSeq, type Via } from './header-values.js';
import { newBranch, newTag } from './ids.js';
import { IncomingInvite, type IncomingInviteHost } from './incoming-invite.js';
import type { HeaderField, SipAddress, SipRequest, SipResponse } from './message.js';
import { OutgoingInvite, type DigestUserCredentials, type OutgoingInviteHost } from './outgoing-invite.js';
import type { SipParseError } from './parser.js';
import { isKnownMethod, isResponseAcceptable, validateRequest } from './request-validator.js';
import { buildOutOfDialogRequest, type OutOfDialogRequestOptions } from './request-builder.js';
import { buildResponse, type Responder, type ResponseOptions } from './responses.js';
import { ServerInviteTransaction } from './server-invite-transaction.js';
import type { BanEvent, SourceGuard, UnbanEvent } from './source-guard.js';
import { serverTransactionKey, TransactionLayer, type ClientTransaction, type ServerTransaction } from './transaction-layer.js';
import type { TimerConfig } from './transaction-timers.js';
import { TransportLayer, type TransportLayerOptions } from './transport-layer.js';

export interface SipStackOptions {
  /** Bind address. */
  host: string;
  /** UDP and TCP port; 0 = ephemeral (the same number for both). */
  port: number;
  /** Address written in Contact and Via (default: host). */
  publicHost?: string;
  userAgent?: string;
  clock?: Clock;
  allowedMethods?: string[];
  supportedExtensions?: string[];
  acceptedContentTypes?: Record<string, string[]>;
  timers?: Partial<TimerConfig>;
  /** Per table (server/client transactions, dialogs); default 100 000. */
  maxTransactions?: number;
  maxDialogs?: number;
  tcpIdleTimeoutMs?: number;
  /** Open TCP connections in total (default 10 000). */
  maxTcpConnections?: number;
  /** Per-source flood/scanner/auth-failure protection (the caller owns it and disposes it). */
  sourceGuard?: SourceGuard;
  /** User part of our Contact URI (default `patchbay`). */
  contactUser?: string;
  /** SIP over TLS on its own port, with our certificate (and how outbound TLS verifies peers). */
  tls?: TransportLayerOptions['tls'];
  /** SIP over WebSocket / secure WebSocket (RFC 7118) on their own ports. */
  ws?: TransportLayerOptions['ws'];
  wss?: TransportLayerOptions['wss'];
}

export interface SipStackEvents {
  invite: [inv: IncomingInvite];
  request: [req: SipRequest, source: SipAddress];
  /** Out-of-dialog REGISTER; the listener must call `respond` once (REGISTER is 405 while nobody listens). */
  register: [req: SipRequest, source: SipAddress, respond: Responder];
  response: [res: SipResponse, source: SipAddress];
  'request-sent': [req: SipRequest, dest: SipAddress];
  'response-sent': [res: SipResponse, dest: SipAddress];
  'transport-error': [err: Error, peer: SipAddress | null];
  /** A source was banned by the SourceGuard (everything from it is dropped until `until`). */
  ban: [ev: BanEvent];
  unban: [ev: UnbanEvent];
}

export interface InviteOptions {
  uri: string;
  from: string;
  to: string;
  body: Buffer;
  contentType: string;
  headers?: HeaderField[];
  dest?: SipAddress;
  /** Answer 401/407 challenges with these (§22.2). */
  credentials?: DigestUserCredentials;
}

export class SipConfigError extends Error {
  readonly code = 'SIP_BAD_DESTINATION';
}

const DEFAULT_ALLOWED = ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'INFO', 'REFER', 'NOTIFY'];

export class SipStack extends EventEmitter<SipStackEvents> {
  readonly clock: Clock;
  readonly userAgent: string;
  /** Allowed methods without / with REGISTER (which depends on a 'register' listener). */
  private readonly baseAllowed: readonly string[];
  private readonly withRegister: readonly string[];
  private readonly transport: TransportLayer;
  private readonly transactions: TransactionLayer;
  private readonly dialogs = new Map<string, Dialog>();
  private readonly incoming = new Map<string, IncomingInvite>();
  private readonly outgoing = new Set<OutgoingInvite>();
  private readonly publicHost: string;
  private readonly validatorOpts: Parameters<typeof validateRequest>[1];
  private readonly dialogHost: DialogHost;
  private readonly inviteHost: IncomingInviteHost;
  private readonly outgoingHost: OutgoingInviteHost;

  constructor(private readonly opts: SipStackOptions) {
    super();
    this.clock = opts.clock ?? systemClock;
    this.baseAllowed = (opts.allowedMethods ?? DEFAULT_ALLOWED).filter((m) => m !== 'REGISTER');
    this.withRegister = [...this.baseAllowed, 'REGISTER'];
    this.userAgent = opts.userAgent ?? 'Patchbay';
    this.publicHost = opts.publicHost ?? opts.host;
    const stack = this;
    this.validatorOpts = {
      supportedExtensions: opts.supportedExtensions ?? [],
      acceptedContentTypes: opts.acceptedContentTypes ?? { INVITE: ['application/sdp'] },
      get allowedMethods() {
        return [...stack.allowedMethods];
      },
    };
    this.transport = new TransportLayer({
      host: opts.host,
      port: opts.port,
      clock: this.clock,
      idleTimeoutMs: opts.tcpIdleTimeoutMs,
      maxConnections: opts.maxTcpConnections,
      guard: opts.sourceGuard,
      ...(opts.tls ? { tls: opts.tls } : {}),
      ...(opts.ws ? { ws: opts.ws } : {}),
      ...(opts.wss ? { wss: opts.wss } : {}),
    });
    this.transactions = new TransactionLayer({ clock: this.clock, transport: this.transport, timers: opts.timers, maxTransactions: opts.maxTransactions });
    this.transport.handler = {
      onRequest: (req, source, via) => this.onRequest(req, source, via),
      onResponse: (res, source) => this.onResponse(res, source),
      onBadMessage: (err, req, source) => this.onBadMessage(err, req, source),
      onSent: (msg, dest) => (msg.kind === 'request' ? this.emit('request-sent', msg, dest) : this.emit('response-sent', msg, dest)),
      onTransportError: (err, peer) => this.emit('transport-error', err, peer),
    };
    this.dialogHost = {
      clock: this.clock,
      get allowedMethods() {
        return stack.allowedMethods;
      },
      timers: this.transactions.timers,
      userAgent: this.userAgent,
      contact: (t) => this.contactUri(t),
      request: (req, dest) => this.sendRequest(req, dest).final,
      sendAck: (ack, dest) => {
        // The same ACK answers every retransmission of the 2xx (§13.2.2.4): its Via is added once.
        if (!ack.headers.has('via')) this.addVia(ack, dest);
        this.transport.send(ack, dest);
      },
      forget: (d) => {
        if (this.dialogs.get(d.key) === d) this.dialogs.delete(d.key);
      },
    };
    this.inviteHost = {
      get userAgent() {
        return stack.userAgent;
      },
      get allowedMethods() {
        return stack.allowedMethods;
      },
      contact: (t) => this.contactUri(t),
      createUasDialog: (inv, res) => {
        const init = uasDialogInit(inv.request, res, inv.source.transport);
        return init ? this.registerDialog(new Dialog(this.dialogHost, init)) : null;
      },
      resend: (res, source) => this.transport.sendResponse(res, source),
    };
    this.outgoingHost = {
      clock: this.clock,
      timers: this.transactions.timers,
      startClient: (req, dest, user) => this.startClient(req, dest, user),
      createUacDialog: (req, res, transport) => {
        const init = uacDialogInit(req, res, transport);
        return init ? this.registerDialog(new Dialog(this.dialogHost, init)) : null;
      },
      finished: (inv) => this.outgoing.delete(inv),
    };
  }

  /** Methods we accept (Allow header); REGISTER only while a 'register' listener exists. */
  get allowedMethods(): readonly string[] {
    return this.listenerCount('register') > 0 ? this.withRegister : this.baseAllowed;
  }

  get udpPort(): number {
    return this.transport.udpPort;
  }

  get tcpPort(): number {
    return this.transport.tcpPort;
  }

  /** The bound port of a transport (TLS, WS, WSS have their own); null when not configured. */
  portOf(transport: SipAddress['transport']): number | null {
    return this.transport.portOf(transport);
  }

  /** Live table sizes (for metrics and leak tests). */
  get stats(): { serverTransactions: number; clientTransactions: number; dialogs: number; tcpConnections: number } {
    return {
      serverTransactions: this.transactions.serverCount,
      clientTransactions: this.transactions.clientCount,
      dialogs: this.dialogs.size,
      tcpConnections: this.transport.tcpConnections,
    };
  }

  private readonly forwardBan = (ev: BanEvent): boolean => this.emit('ban', ev);
  private readonly forwardUnban = (ev: UnbanEvent): boolean => this.emit('unban', ev);

  /** The guard given in the options, if any (stats, bans in force). */
  get sourceGuard(): SourceGuard | null {
    return this.opts.sourceGuard ?? null;
  }

  /**
   * A request from `source` carried credentials that were checked and found wrong (its 403 is
   * sent): counted towards a ban of the source. Without a guard this does nothing.
   */
  reportAuthFailure(source: SipAddress): void {
    this.opts.sourceGuard?.reportAuthFailure(source.host);
  }

  start(): Promise<void> {
    this.opts.sourceGuard?.on('ban', this.forwardBan).on('unban', this.forwardUnban);
    return this.transport.start();
  }

  /** Closes sockets, stops every timer, forgets every transaction and dialog (without signalling). */
  async stop(): Promise<void> {
    this.opts.sourceGuard?.off('ban', this.forwardBan).off('unban', this.forwardUnban);
    for (const o of this.outgoing) o.dispose();
    this.outgoing.clear();
    this.transactions.dispose();
    for (const d of [...this.dialogs.values()]) d.terminate('stack-stopped');
    this.dialogs.clear();
    this.incoming.clear();
    await this.transport.stop();
  }

  contactUri(transport: SipAddress['transport'] = 'udp'): string {
    const host = this.publicHost.includes(':') ? `[${this.publicHost}]` : this.publicHost;
    const port = this.sentByPort(transport);
    return `sip:${this.opts.contactUser ?? 'patchbay'}@${host}:${port}${transport === 'udp' ? '' : `;transport=${transport}`}`;
  }

  /** Sends an out-of-dialog request through a client transaction; a Via (new branch) is added if absent. */
  sendRequest(req: SipRequest, dest: SipAddress): ClientTransactionHandle {
    const handle = new ClientTransactionHandle(req);
    this.startClient(req, dest, handle.transactionUser());
    return handle;
  }

  /**
   * An out-of-dialog request with our defaults (new Call-ID and From tag unless given, our
   * Contact for `transport`, User-Agent), ready for `sendRequest`.
   */
  buildRequest(method: string, o: OutOfDialogRequestOptions, transport: SipAddress['transport'] = 'udp'): SipRequest {
    return buildOutOfDialogRequest(method, o, { host: this.publicHost, contact: this.contactUri(transport), userAgent: this.userAgent, allow: this.allowedMethods });
  }

  /** Starts an INVITE as UAC. */
  invite(o: InviteOptions): OutgoingInvite {
    const dest = o.dest ?? uriAddress(o.uri, 'udp');
    if (!dest) throw new SipConfigError(`cannot route to ${o.uri}`);
    const req = this.buildRequest('INVITE', { uri: o.uri, from: o.from, to: o.to, headers: o.headers, body: o.body, contentType: o.contentType }, dest.transport);
    const inv = new OutgoingInvite(this.outgoingHost, req, dest, o.credentials ?? null);
    this.outgoing.add(inv);
    inv.start();
    return inv;
  }

  private startClient(req: SipRequest, dest: SipAddress, user: ClientTransactionUser): ClientTransaction | null {
    if (!req.headers.has('via')) this.addVia(req, dest);
    if (!req.headers.has('max-forwards')) req.headers.append('Max-Forwards', '70');
    const tx = this.transactions.createClient(req, dest, user);
    if (!tx) queueMicrotask(() => user.onTerminated?.('transport-error'));
    return tx;
  }

  private addVia(req: SipRequest, dest: SipAddress): void {
    const host = this.publicHost.includes(':') ? `[${this.publicHost}]` : this.publicHost;
    const port = this.sentByPort(dest.transport);
    // SIP/2.0/UDP, TCP, TLS, WS or WSS (RFC 3261 §18.1.1, RFC 7118 §5.2).
    req.headers.prepend('Via', `SIP/2.0/${dest.transport.toUpperCase()} ${host}:${port};branch=${newBranch()};rport`);
  }

  /** Our port for a transport in Via and Contact (TCP's when that transport is not configured: the send then fails). */
  private sentByPort(transport: SipAddress['transport']): number {
    return this.transport.portOf(transport) ?? this.tcpPort;
  }

  private registerDialog(d: Dialog): Dialog | null {
    if (this.dialogs.size >= (this.opts.maxDialogs ?? 100_000)) return null;
    this.dialogs.set(d.key, d);
    return d;
  }

  private statelessReply(req: SipRequest, source: SipAddress, status: number, opts?: ResponseOptions): void {
    const res = buildResponse(req, status, opts, status === 100 ? undefined : newTag(), this.userAgent);
    this.transport.sendResponse(res, source);
  }

  private allowHeader(): HeaderField {
    return { name: 'Allow', value: this.allowedMethods.join(', ') };
  }

  private onBadMessage(err: SipParseError | null, req: SipRequest | undefined, source: SipAddress): void {
    if (!req || req.method === 'ACK') return; // responses and ACKs are never answered
    this.statelessReply(req, source, err?.status ?? 400);
  }

  private onResponse(res: SipResponse, source: SipAddress): void {
    this.emit('response', res, source);
    if (!isResponseAcceptable(res)) return;
    if (this.transactions.handleResponse(res)) return;
    // A response no transaction waits for costs a token like a request: forged responses are
    // otherwise a way to make us parse without limit (legitimate peers send few of them).
    this.opts.sourceGuard?.admitMessage(source.host, true);
    // A 2xx retransmission after the INVITE client transaction is gone: the dialog re-sends its ACK.
    if (res.status >= 200 && res.status < 300 && parseCSeq(res.headers.get('cseq') ?? '')?.method === 'INVITE') {
      const local = getTag(res.headers.get('from') ?? '');
      const remote = getTag(res.headers.get('to') ?? '');
      if (local && remote) this.dialogs.get(dialogKey(res.headers.get('call-id') ?? '', local, remote))?.receive2xxRetransmission(res);
    }
  }

  private onRequest(req: SipRequest, source: SipAddress, via: Via): void {
    this.emit('request', req, source);
    const key = serverTransactionKey(req, via);
    const existing = this.transactions.findServer(key);
    if (existing) {
      existing.receiveRequest(req); // retransmission, or ACK for a non-2xx: absorbed (§17.2)
      return;
    }
    if (req.method === 'ACK') {
      this.findDialog(req)?.receiveAck(req); // ACK for a 2xx is its own transaction (§17.1.1.3)
      return;
    }
    const tx = this.transactions.createServer(req, source, key);
    if (!tx) {
      this.statelessReply(req, source, 503, { headers: [{ name: 'Retry-After', value: '5' }] });
      return;
    }
    const reply = (status: number, opts?: ResponseOptions, tag: string | undefined = newTag()): void =>
      tx.respond(buildResponse(req, status, opts, tag, this.userAgent));
    const rejection = validateRequest(req, this.validatorOpts);
    if (rejection) return reply(rejection.status, { reason: rejection.reason, headers: rejection.headers });
    if (!this.allowedMethods.includes(req.method)) return reply(isKnownMethod(req.method) ? 405 : 501, { headers: [this.allowHeader()] });
    if (req.method === 'CANCEL') return this.onCancel(req, via, reply);
    if (req.method === 'REGISTER') return this.onRegister(req, source, reply);
    const toTag = getTag(req.headers.get('to') ?? '');
    if (toTag) {
      const dialog = this.findDialog(req);
      if (!dialog) return reply(481, undefined, undefined);
      dialog.handleRequest(req, { reply: (res) => tx.respond(res), resend: (res) => this.transport.sendResponse(res, source) });
      return;
    }
    if (req.method === 'INVITE' && tx instanceof ServerInviteTransaction) {
      // §8.1.1.8: a dialog-creating INVITE must carry Contact, or no dialog can be formed.
      if (!req.headers.has('contact')) return reply(400, { reason: 'Missing Contact' });
      return this.onInvite(req, source, tx);
    }
    if (req.method === 'OPTIONS') {
      return reply(200, {
        headers: [this.allowHeader(), { name: 'Accept', value: 'application/sdp' }, { name: 'Supported', value: (this.opts.supportedExtensions ?? []).join(', ') }],
      });
    }
    reply(481); // BYE/INFO outside any dialog
  }

  private onInvite(req: SipRequest, source: SipAddress, tx: ServerInviteTransaction): void {
    const inv = new IncomingInvite(this.inviteHost, req, source, tx, newTag());
    this.incoming.set(tx.key, inv);
    this.transactions.setServerUser(tx, {
      onAck: (ack) => this.findDialog(ack)?.receiveAck(ack),
      onTerminated: () => this.incoming.delete(tx.key),
    });
    tx.respond(buildResponse(req, 100, undefined, undefined, this.userAgent)); // §17.2.1: 100 Trying at once
    this.emit('invite', inv);
  }

  /** A registrar above decides; `respond` is once-only, like the in-dialog responders. */
  private onRegister(req: SipRequest, source: SipAddress, reply: (status: number, opts?: ResponseOptions) => void): void {
    let answered = false;
    const respond: Responder = (status, opts) => {
      if (answered) return;
      answered = true;
      reply(status, opts);
    };
    this.emit('register', req, source, respond);
  }

  /** §9.2: 200 to the CANCEL; the INVITE gets 487 if it has no final response yet. */
  private onCancel(req: SipRequest, via: Via, reply: (status: number) => void): void {
    const inviteTx = this.transactions.findInviteForCancel(req, via);
    const inv = inviteTx ? this.incoming.get(inviteTx.key) : undefined;
    if (!inv) return reply(481);
    reply(200);
    inv.handleCancel(req);
  }

  /** The dialog an in-dialog request belongs to (§12.2.2: Call-ID, To tag = local, From tag = remote). */
  private findDialog(req: SipRequest): Dialog | undefined {
    const local = getTag(req.headers.get('to') ?? '');
    if (!local) return undefined;
    return this.dialogs.get(dialogKey(req.headers.get('call-id') ?? '', local, getTag(req.headers.get('from') ?? '') ?? ''));
  }
}

// The types the call engine handles, re-exported so the façade is one import.
export { Dialog } from './dialog.js';
export type { DialogEvents } from './dialog.js';
export { IncomingInvite } from './incoming-invite.js';
export { OutgoingInvite, type OutgoingInviteOutcome } from './outgoing-invite.js';
export { ClientTransactionHandle } from './client-transaction-handle.js';
export type { Responder, ResponseOptions } from './responses.js';
export type { DigestUserCredentials } from './outgoing-invite.js';
export type { OutOfDialogRequestOptions } from './request-builder.js';
