/**
 * RegistrationClient: keeps a REGISTER binding (RFC 3261 §10.2) of our Contact with a remote
 * registrar (a carrier), for carriers that send inbound calls to registered trunks only.
 *
 * One Call-ID and From tag for the client's lifetime, CSeq increasing by one per REGISTER
 * (§10.2); 401/407 answered with digest credentials (§22.2, once per challenge unless stale,
 * and pre-emptively on refreshes with the last challenge, nc counting up); 423 answered with the
 * Min-Expires asked for (§10.2.8); the granted expiry read from our Contact's `expires` or the
 * Expires header (§10.2.4), refreshed at max(expiry − 30 s, expiry / 2); failures retried after
 * 30 s, 60 s, 120 s... capped at 10 min. `stop()` removes the binding with Expires: 0.
 */
import { EventEmitter } from 'node:events';
import type { Clock, TimerHandle } from './clock.js';
import { authorizationFor, pickChallenge, type DigestChallenge } from './digest.js';
import { parseNameAddr, splitHeaderValues } from './header-values.js';
import { newCallId, newTag } from './ids.js';
import type { HeaderField, SipAddress, SipResponse } from './message.js';
import type { SipStack } from './sip-stack.js';
import { parseUri } from './uri.js';

export type RegistrationState = 'idle' | 'registering' | 'registered' | 'failed';

export interface RegistrationClientOptions {
  stack: Pick<SipStack, 'buildRequest' | 'sendRequest' | 'contactUri' | 'clock'>;
  /** Where REGISTERs are sent. */
  registrar: SipAddress;
  /** Address of record, `sip:user@domain`: To and From of every REGISTER. */
  aor: string;
  username: string;
  password: string;
  /** Requested binding lifetime, seconds. */
  expires: number;
  /** Default: the stack's clock. */
  clock?: Clock;
}

export interface RegistrationClientEvents {
  /** A REGISTER succeeded; the registrar granted `expiresSeconds`. */
  registered: [expiresSeconds: number];
  /** A registration attempt failed (final status, or null on timeout/transport error); a retry is scheduled. */
  failed: [status: number | null, reason: string];
}

export class RegistrationConfigError extends Error {
  readonly code = 'SIP_BAD_AOR';
}

type Attempt = { kind: 'ok'; res: SipResponse; requested: number } | { kind: 'failed'; status: number | null; reason: string } | { kind: 'aborted' };

const BACKOFF_FIRST_MS = 30_000;
const BACKOFF_MAX_MS = 600_000;
/** REGISTERs one attempt may send: challenges (proxy + registrar, stale) and a 423. */
const MAX_SENDS_PER_ATTEMPT = 6;

export class RegistrationClient extends EventEmitter<RegistrationClientEvents> {
  private readonly clock: Clock;
  private readonly requestUri: string;
  private readonly callId: string;
  private readonly fromTag = newTag();
  private cseq = 0;
  /** Requested lifetime; raised by a 423's Min-Expires for later refreshes too. */
  private expires: number;
  private stateValue: RegistrationState = 'idle';
  private timer: TimerHandle | null = null;
  private failures = 0;
  /** Bumped by stop(): attempts of an earlier generation drop their results. */
  private generation = 0;
  /** A REGISTER with a lifetime was sent, so the registrar may hold our binding. */
  private mayBeBound = false;
  /** Last challenge, answered pre-emptively on the next REGISTER (saves a round trip). */
  private auth: { challenge: DigestChallenge; proxy: boolean } | null = null;
  private readonly nonceCounts = new Map<string, number>();

  constructor(private readonly opts: RegistrationClientOptions) {
    super();
    const aor = parseUri(opts.aor);
    if (!aor || (aor.scheme !== 'sip' && aor.scheme !== 'sips') || !aor.host) throw new RegistrationConfigError(`not a SIP address of record: ${opts.aor}`);
    if (!Number.isInteger(opts.expires) || opts.expires <= 0) throw new RegistrationConfigError(`expires must be a positive integer, got ${opts.expires}`);
    this.clock = opts.clock ?? opts.stack.clock;
    // §10.2: the Request-URI names the registrar's domain, without user part.
    const host = aor.host.includes(':') ? `[${aor.host}]` : aor.host;
    this.requestUri = `${aor.scheme}:${host}${aor.port !== null ? `:${aor.port}` : ''}`;
    this.callId = newCallId(opts.registrar.host);
    this.expires = opts.expires;
  }

  get state(): RegistrationState {
    return this.stateValue;
  }

  /** Registers now, then keeps the binding refreshed until stop(). */
  start(): void {
    if (this.stateValue !== 'idle') return;
    this.failures = 0;
    void this.run(this.generation);
  }

  /**
   * Stops refreshing and removes our binding (Expires: 0) if one may exist. Resolves true when
   * the registrar confirmed the removal (or there was nothing to remove).
   */
  async stop(): Promise<boolean> {
    const gen = ++this.generation;
    this.clearTimer();
    this.stateValue = 'idle';
    if (!this.mayBeBound) return true;
    const result = await this.attempt(0, gen);
    if (result.kind === 'ok') this.mayBeBound = false;
    return result.kind === 'ok';
  }

  private async run(gen: number): Promise<void> {
    this.timer = null;
    this.stateValue = 'registering';
    const result = await this.attempt(this.expires, gen);
    if (gen !== this.generation || result.kind === 'aborted') return;
    if (result.kind === 'ok') {
      const granted = this.granted(result.res, result.requested);
      if (granted > 0) {
        this.failures = 0;
        this.stateValue = 'registered';
        // Refresh well before expiry, but not in a tight loop for short grants.
        this.schedule(Math.max(granted - 30, granted / 2) * 1000, gen);
        this.emit('registered', granted);
        return;
      }
      this.fail(gen, result.res.status, 'registrar granted no lifetime');
      return;
    }
    this.fail(gen, result.status, result.reason);
  }

  private fail(gen: number, status: number | null, reason: string): void {
    this.stateValue = 'failed';
    this.failures++;
    this.schedule(Math.min(BACKOFF_FIRST_MS * 2 ** (this.failures - 1), BACKOFF_MAX_MS), gen);
    this.emit('failed', status, reason);
  }

  private schedule(ms: number, gen: number): void {
    this.clearTimer();
    this.timer = this.clock.setTimeout(() => void this.run(gen), ms);
  }

  private clearTimer(): void {
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = null;
  }

  /** One registration (or removal): REGISTER plus the follow-ups challenges and 423 call for. */
  private async attempt(expires: number, gen: number): Promise<Attempt> {
    const answered = new Set<string>();
    let requested = expires;
    let last: SipResponse | null = null;
    for (let i = 0; i < MAX_SENDS_PER_ATTEMPT; i++) {
      const sent = await this.send(requested);
      if (gen !== this.generation) return { kind: 'aborted' };
      const res = sent.res;
      if (!res) return { kind: 'failed', status: null, reason: sent.failure };
      last = res;
      if (res.status >= 200 && res.status < 300) return { kind: 'ok', res, requested };
      if (res.status === 401 || res.status === 407) {
        const proxy = res.status === 407;
        const challenge = pickChallenge(res.headers.getAll(proxy ? 'proxy-authenticate' : 'www-authenticate'));
        if (!challenge) return { kind: 'failed', status: res.status, reason: `${res.status} ${res.reason} (no usable Digest challenge)` };
        const key = `${res.status}|${challenge.realm}`;
        if (answered.has(key) && !challenge.stale) return { kind: 'failed', status: res.status, reason: `${res.status} ${res.reason} (credentials refused)` };
        answered.add(key);
        this.auth = { challenge, proxy };
        continue;
      }
      if (res.status === 423 && requested > 0) {
        // §10.2.8: ask again with at least Min-Expires.
        const min = Number(res.headers.get('min-expires'));
        if (!Number.isInteger(min) || min <= requested) return { kind: 'failed', status: 423, reason: `423 ${res.reason} (unusable Min-Expires)` };
        requested = min;
        this.expires = Math.max(this.expires, min);
        continue;
      }
      return { kind: 'failed', status: res.status, reason: `${res.status} ${res.reason}` };
    }
    return { kind: 'failed', status: last?.status ?? null, reason: 'too many challenges' };
  }

  private async send(expires: number): Promise<{ res: SipResponse | null; failure: string }> {
    const { stack, registrar, aor } = this.opts;
    const contact = `<${stack.contactUri(registrar.transport)}>`;
    const headers: HeaderField[] = [{ name: 'Expires', value: String(expires) }];
    if (this.auth) {
      const { challenge, proxy } = this.auth;
      const nc = (this.nonceCounts.get(challenge.nonce) ?? 0) + 1;
      this.nonceCounts.set(challenge.nonce, nc);
      const creds = { username: this.opts.username, password: this.opts.password };
      headers.push({ name: proxy ? 'Proxy-Authorization' : 'Authorization', value: authorizationFor(challenge, creds, 'REGISTER', this.requestUri, nc) });
    }
    if (expires > 0) this.mayBeBound = true;
    const req = stack.buildRequest(
      'REGISTER',
      { uri: this.requestUri, from: aor, to: aor, callId: this.callId, fromTag: this.fromTag, cseq: ++this.cseq, contact, headers },
      registrar.transport,
    );
    const handle = stack.sendRequest(req, registrar);
    let failure = 'timeout';
    handle.once('failed', (reason) => (failure = reason));
    return { res: await handle.final, failure };
  }

  /** §10.2.4: our Contact's `expires` parameter in the 2xx, else its Expires header, else what we asked. */
  private granted(res: SipResponse, requested: number): number {
    const ours = parseUri(this.opts.stack.contactUri(this.opts.registrar.transport));
    for (const line of res.headers.getAll('contact')) {
      for (const value of splitHeaderValues(line)) {
        const na = parseNameAddr(value);
        const u = na ? parseUri(na.uri) : null;
        if (!na || !u || !ours || u.user !== ours.user || u.host !== ours.host || u.port !== ours.port) continue;
        const e = na.params.get('expires');
        if (e != null && /^[0-9]{1,10}$/.test(e)) return Number(e);
      }
    }
    const header = res.headers.get('expires');
    return header !== undefined && /^[0-9]{1,10}$/.test(header.trim()) ? Number(header.trim()) : requested;
  }
}
