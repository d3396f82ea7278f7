/**
 * An INVITE we send (UAC side): provisional/final responses as events, the dialog on 2xx (ACKed
 * here, §13.2.2.4), and cancel() per §9.1.
 *
 * §9.1: CANCEL is only sent once a provisional response has arrived (until then it is deferred);
 * it copies the INVITE's Request-URI, Call-ID, From, To, CSeq number, Route and top Via (same
 * branch). If no final response arrives 64*T1 after the CANCEL, the INVITE is given up.
 * A 2xx after cancel(), or from a second fork (§13.2.2.4), is ACKed and then ended with BYE.
 *
 * §22.2/§22.3: with credentials, a 401/407 is answered by a new INVITE (same Call-ID, From tag and
 * To; CSeq+1; a new branch) carrying Authorization / Proxy-Authorization. Each challenge (header
 * kind + realm) is answered once; a repeated one only when it says stale=true (RFC 7616 §3.3),
 * so a wrong password ends as `rejected` with the second 401/407.
 */
import { EventEmitter } from 'node:events';
import type { Clock, TimerHandle } from './clock.js';
import type { ClientTransactionUser } from './client-invite-transaction.js';
import type { Dialog } from './dialog.js';
import { authorizationFor, parseCredentials, pickChallenge, type DigestChallenge } from './digest.js';
import { getTag, parseCSeq, splitHeaderValues } from './header-values.js';
import { createRequest, SipHeaders, type HeaderField, type SipAddress, type SipRequest, type SipResponse } from './message.js';
import type { ClientTransaction } from './transaction-layer.js';
import type { TimerConfig } from './transaction-timers.js';
import { ClientInviteTransaction } from './client-invite-transaction.js';

export type OutgoingInviteOutcome =
  | { kind: 'answered'; response: SipResponse; dialog: Dialog }
  | { kind: 'rejected'; response: SipResponse }
  | { kind: 'cancelled'; response: SipResponse | null }
  | { kind: 'timeout' }
  | { kind: 'transport-error' };

export interface OutgoingInviteEvents {
  provisional: [res: SipResponse];
  answered: [res: SipResponse, dialog: Dialog];
  rejected: [res: SipResponse];
  /** A 401/407 challenge is being answered by a new INVITE. */
  auth: [challenge: DigestChallenge];
  ended: [outcome: OutgoingInviteOutcome];
}

export interface OutgoingInviteHost {
  readonly clock: Clock;
  readonly timers: TimerConfig;
  startClient(req: SipRequest, dest: SipAddress, user: ClientTransactionUser): ClientTransaction | null;
  createUacDialog(invite: SipRequest, res: SipResponse, transport: SipAddress['transport']): Dialog | null;
  finished(invite: OutgoingInvite): void;
}

/** CANCEL for `invite` (§9.1). */
export function buildCancel(invite: SipRequest): SipRequest {
  const fields: HeaderField[] = [];
  const via = invite.headers.get('via');
  if (via !== undefined) fields.push({ name: 'Via', value: splitHeaderValues(via)[0] ?? via });
  for (const r of invite.headers.getAll('route')) fields.push({ name: 'Route', value: r });
  fields.push(
    { name: 'Max-Forwards', value: '70' },
    { name: 'From', value: invite.headers.get('from') ?? '' },
    { name: 'To', value: invite.headers.get('to') ?? '' },
    { name: 'Call-ID', value: invite.headers.get('call-id') ?? '' },
    { name: 'CSeq', value: `${parseCSeq(invite.headers.get('cseq') ?? '')?.seq ?? 1} CANCEL` },
  );
  return createRequest('CANCEL', invite.uri, fields);
}

export interface DigestUserCredentials {
  username: string;
  password: string;
}

/** Most INVITEs one call sends for authentication (proxy + UAS realms, plus stale nonces). */
const MAX_AUTH_ATTEMPTS = 4;

export class OutgoingInvite extends EventEmitter<OutgoingInviteEvents> {
  readonly callId: string;
  readonly done: Promise<OutgoingInviteOutcome>;
  private resolveDone!: (o: OutgoingInviteOutcome) => void;
  private tx: ClientTransaction | null = null;
  private outcome: OutgoingInviteOutcome | null = null;
  private dialogValue: Dialog | null = null;
  /** Dialogs by remote tag: every 2xx (fork) gets one, so retransmissions are re-ACKed, not re-dialled. */
  private readonly dialogs = new Map<string, Dialog>();
  private provisionalSeen = false;
  private cancelState: 'none' | 'deferred' | 'sent' = 'none';
  private cancelGuard: TimerHandle | null = null;
  /** The INVITE in flight: replaced by each authenticated retry. */
  private current: SipRequest;
  /** Increments per INVITE sent; callbacks of earlier transactions are ignored. */
  private attempt = 0;
  /** Challenges answered, by `401|realm` / `407|realm`. */
  private readonly answered = new Set<string>();
  /** nc per nonce (RFC 7616 §3.4: counts the requests sent with that nonce). */
  private readonly nonceCounts = new Map<string, number>();

  constructor(
    private readonly host: OutgoingInviteHost,
    request: SipRequest,
    readonly dest: SipAddress,
    private readonly credentials: DigestUserCredentials | null = null,
  ) {
    super();
    this.current = request;
    this.callId = request.headers.get('call-id') ?? '';
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
  }

  get dialog(): Dialog | null {
    return this.dialogValue;
  }

  /** The INVITE currently in flight (the authenticated one after a challenge). */
  get request(): SipRequest {
    return this.current;
  }

  get cancelRequested(): boolean {
    return this.cancelState !== 'none';
  }

  start(): void {
    const attempt = ++this.attempt;
    this.provisionalSeen = false;
    this.tx = this.host.startClient(this.current, this.dest, {
      onResponse: (res) => {
        if (attempt === this.attempt) this.handleResponse(res);
      },
      onTerminated: (reason) => {
        if (attempt !== this.attempt) return; // an earlier, challenged INVITE's transaction ending
        if (reason === 'timeout') this.finish(this.cancelState === 'none' ? { kind: 'timeout' } : { kind: 'cancelled', response: null });
        else if (reason === 'transport-error') this.finish({ kind: 'transport-error' });
        this.host.finished(this);
        this.clearGuard();
      },
    });
    if (!this.tx) this.finish({ kind: 'transport-error' });
  }

  /** Cancels the INVITE if it has no final response yet (§9.1). */
  cancel(): void {
    if (this.outcome || this.cancelState !== 'none') return;
    this.cancelState = 'deferred';
    if (this.provisionalSeen) this.sendCancel();
  }

  /** Stops the §9.1 guard timer (stack shutdown). */
  dispose(): void {
    this.clearGuard();
    if (this.tx && this.tx.state !== 'terminated') this.tx.dispose();
  }

  private sendCancel(): void {
    this.cancelState = 'sent';
    this.host.startClient(buildCancel(this.request), this.dest, {});
    this.cancelGuard = this.host.clock.setTimeout(() => {
      this.cancelGuard = null;
      if (this.tx instanceof ClientInviteTransaction) this.tx.abort();
    }, 64 * this.host.timers.t1);
  }

  private handleResponse(res: SipResponse): void {
    if (res.status < 200) {
      this.provisionalSeen = true;
      this.emit('provisional', res);
      if (this.cancelState === 'deferred') this.sendCancel();
      return;
    }
    this.clearGuard();
    if (res.status >= 300) {
      if ((res.status === 401 || res.status === 407) && this.cancelState === 'none' && !this.outcome && this.retryWithAuth(res)) return;
      if (this.cancelState !== 'none' && res.status === 487) this.finish({ kind: 'cancelled', response: res });
      else {
        if (!this.outcome) this.emit('rejected', res);
        this.finish({ kind: 'rejected', response: res });
      }
      return;
    }
    const tag = getTag(res.headers.get('to') ?? '') ?? '';
    const known = this.dialogs.get(tag);
    if (known) {
      known.receive2xxRetransmission(res);
      return;
    }
    const dialog = this.host.createUacDialog(this.request, res, this.dest.transport);
    if (!dialog) return; // a 2xx without Contact or To tag cannot form a dialog (§12.1.2)
    this.dialogs.set(tag, dialog);
    const seq = parseCSeq(this.request.headers.get('cseq') ?? '')?.seq ?? 1;
    dialog.ackInvite(seq);
    if (this.dialogValue || this.cancelState !== 'none') {
      // A second fork, or the callee answered while we were cancelling: ACK then BYE (§13.2.2.4, §15).
      if (!this.dialogValue) this.finish({ kind: 'cancelled', response: res });
      void dialog.sendBye();
      return;
    }
    this.dialogValue = dialog;
    this.emit('answered', res, dialog);
    this.finish({ kind: 'answered', response: res, dialog });
  }

  /** Sends the INVITE again answering the challenge in `res` (§22.2); false when it must not be answered. */
  private retryWithAuth(res: SipResponse): boolean {
    if (!this.credentials || this.attempt >= MAX_AUTH_ATTEMPTS) return false;
    const proxy = res.status === 407;
    const challenge = pickChallenge(res.headers.getAll(proxy ? 'proxy-authenticate' : 'www-authenticate'));
    if (!challenge) return false;
    const key = `${res.status}|${challenge.realm}`;
    if (this.answered.has(key) && !challenge.stale) return false; // refused: the password is wrong
    this.answered.add(key);
    const nc = (this.nonceCounts.get(challenge.nonce) ?? 0) + 1;
    this.nonceCounts.set(challenge.nonce, nc);
    const prev = this.current;
    const headers = new SipHeaders(prev.headers.fields.map((f) => ({ ...f })));
    headers.delete('via'); // the stack adds a Via with a new branch: a new transaction (§8.1.3.5)
    const seq = parseCSeq(prev.headers.get('cseq') ?? '')?.seq ?? 1;
    headers.set('CSeq', `${seq + 1} INVITE`);
    // Replace only our earlier answer for the same realm; credentials for other realms stay (§22.3).
    const name = proxy ? 'Proxy-Authorization' : 'Authorization';
    const kept = headers.getAll(name).filter((v) => parseCredentials(v)?.realm !== challenge.realm);
    headers.delete(name);
    for (const v of kept) headers.append(name, v);
    headers.append(name, authorizationFor(challenge, this.credentials, 'INVITE', prev.uri, nc));
    this.current = { ...prev, headers };
    this.emit('auth', challenge);
    this.start();
    return true;
  }

  private finish(outcome: OutgoingInviteOutcome): void {
    if (this.outcome) return;
    this.outcome = outcome;
    this.resolveDone(outcome);
    this.emit('ended', outcome);
  }

  private clearGuard(): void {
    if (this.cancelGuard) this.host.clock.clearTimeout(this.cancelGuard);
    this.cancelGuard = null;
  }
}

