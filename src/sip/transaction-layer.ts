/**
 * Transaction layer (RFC 3261 §17): creates transactions, matches messages to them, forgets them
 * when they terminate.
 *
 * Server matching (§17.2.3): with a magic-cookie branch, branch + sent-by + method (ACK matches the
 * INVITE); otherwise the RFC 2543 fallback keys on Call-ID, From tag, CSeq number, top Via and
 * method. CANCEL matches the INVITE it cancels with the same key computed for method INVITE (§9.2).
 * Client matching (§17.1.3): top Via branch + CSeq method of the response.
 * Tables are capped so a flood cannot grow memory without bound; callers answer 503 when full.
 */
import type { Clock } from './clock.js';
import { getTag, parseCSeq, type Via } from './header-values.js';
import type { SipAddress, SipRequest, SipResponse } from './message.js';
import { ClientInviteTransaction } from './client-invite-transaction.js';
import { ClientNonInviteTransaction } from './client-non-invite-transaction.js';
import { ServerInviteTransaction } from './server-invite-transaction.js';
import { ServerNonInviteTransaction } from './server-non-invite-transaction.js';
import { DEFAULT_TIMERS, type TimerConfig } from './transaction-timers.js';
import type { TransactionEnv } from './transaction.js';
import { topVia, type TransportLayer } from './transport-layer.js';
import { isReliableTransport } from './transport.js';

export type ServerTransaction = ServerInviteTransaction | ServerNonInviteTransaction;
export type ClientTransaction = ClientInviteTransaction | ClientNonInviteTransaction;

export const MAGIC_COOKIE = 'z9hG4bK';

export interface TransactionLayerOptions {
  clock: Clock;
  /** The two send paths the transactions need (the TransportLayer, or a fake in tests). */
  transport: Pick<TransportLayer, 'send' | 'sendResponse'>;
  timers?: Partial<TimerConfig>;
  /** Cap per table (server, client); default 100 000. */
  maxTransactions?: number;
}

/** §17.2.3 server transaction key for `req`, whose top Via is `via`; `method` overrides (CANCEL → INVITE). */
export function serverTransactionKey(req: SipRequest, via: Via, method = req.method): string {
  const m = method === 'ACK' ? 'INVITE' : method;
  const sentBy = via.port === null ? via.host : `${via.host}:${via.port}`;
  if (via.branch !== null && via.branch.startsWith(MAGIC_COOKIE)) return `${via.branch}|${sentBy}|${m}`;
  // RFC 2543 peers: no usable branch. The To tag is left out so the ACK (which carries our tag)
  // finds the INVITE (which had none).
  const cseq = parseCSeq(req.headers.get('cseq') ?? '');
  const from = req.headers.get('from');
  return `2543|${req.headers.get('call-id') ?? ''}|${from ? getTag(from) ?? '' : ''}|${cseq ? cseq.seq : ''}|${sentBy}|${via.branch ?? ''}|${m}`;
}

/** §17.1.3 client key from our branch and the CSeq method. */
export function clientTransactionKey(branch: string, method: string): string {
  return `${branch}|${method}`;
}

export class TransactionLayer {
  private readonly server = new Map<string, ServerTransaction>();
  private readonly client = new Map<string, ClientTransaction>();
  readonly timers: TimerConfig;
  private readonly max: number;

  constructor(private readonly opts: TransactionLayerOptions) {
    this.timers = { ...DEFAULT_TIMERS, ...opts.timers };
    this.max = opts.maxTransactions ?? 100_000;
  }

  get serverCount(): number {
    return this.server.size;
  }

  get clientCount(): number {
    return this.client.size;
  }

  findServer(key: string): ServerTransaction | undefined {
    return this.server.get(key);
  }

  /** The INVITE server transaction a CANCEL refers to (§9.2), if it still exists. */
  findInviteForCancel(cancel: SipRequest, via: Via): ServerInviteTransaction | undefined {
    const tx = this.server.get(serverTransactionKey(cancel, via, 'INVITE'));
    return tx instanceof ServerInviteTransaction ? tx : undefined;
  }

  /** New server transaction for `req` from `source`; null when the table is full. */
  createServer(req: SipRequest, source: SipAddress, key: string): ServerTransaction | null {
    if (this.server.size >= this.max) return null;
    const env = this.env(source.transport, (msg, onError) =>
      this.opts.transport.sendResponse(msg as SipResponse, source, (err) => err && onError(err)),
    );
    const tx = req.method === 'INVITE' ? new ServerInviteTransaction(req, key, env) : new ServerNonInviteTransaction(req, key, env);
    this.server.set(key, tx);
    const user = { onTerminated: () => this.server.delete(key) };
    tx.user = user;
    return tx;
  }

  /** Wraps the transaction user so the table entry is removed when the transaction terminates. */
  setServerUser(tx: ServerTransaction, user: ServerTransaction['user']): void {
    tx.user = {
      ...user,
      onTerminated: (reason) => {
        if (this.server.get(tx.key) === tx) this.server.delete(tx.key);
        user.onTerminated?.(reason);
      },
    };
  }

  /**
   * Starts a client transaction for `req` (whose top Via carries our branch) towards `dest`.
   * Returns null when the table is full.
   */
  createClient(req: SipRequest, dest: SipAddress, user: ClientTransaction['user']): ClientTransaction | null {
    if (this.client.size >= this.max) return null;
    const via = topVia(req);
    const key = clientTransactionKey(via?.branch ?? '', req.method);
    const env = this.env(dest.transport, (msg, onError) => this.opts.transport.send(msg, dest, (err) => err && onError(err)));
    const tx = req.method === 'INVITE' ? new ClientInviteTransaction(req, key, env) : new ClientNonInviteTransaction(req, key, env);
    tx.user = {
      ...user,
      onTerminated: (reason) => {
        if (this.client.get(key) === tx) this.client.delete(key);
        user.onTerminated?.(reason);
      },
    };
    this.client.set(key, tx);
    tx.start();
    return tx;
  }

  /** Hands a response to its client transaction; false when none matches (§17.1.3). */
  handleResponse(res: SipResponse): boolean {
    const via = topVia(res);
    const cseq = parseCSeq(res.headers.get('cseq') ?? '');
    if (!via?.branch || !cseq) return false;
    const tx = this.client.get(clientTransactionKey(via.branch, cseq.method));
    if (!tx) return false;
    tx.receiveResponse(res);
    return true;
  }

  /** Stops every timer and forgets every transaction (stack shutdown). */
  dispose(): void {
    for (const tx of this.server.values()) tx.dispose();
    for (const tx of this.client.values()) tx.dispose();
    this.server.clear();
    this.client.clear();
  }

  private env(transport: SipAddress['transport'], send: TransactionEnv['send']): TransactionEnv {
    return { clock: this.opts.clock, timers: this.timers, reliable: isReliableTransport(transport), send };
  }
}
