/**
 * The registrar (RFC 3261 §10.3): SIP users' devices bind Contacts to their address of record
 * with REGISTER, authenticated by digest (RFC 8760 SHA-256 offered before MD5). Several devices
 * per user; a device is known by its RFC 5626 +sip.instance when it sends one, else by its Contact
 * URI. Each binding expires on its own timer on the injected clock (no sweeping).
 *
 * Bindings live in memory only: a restart forgets them, and phones simply re-register (they do
 * so well before their expiry anyway). A clustered deployment would keep them in Redis instead.
 */
import { EventEmitter } from 'node:events';
import { systemClock, type Clock, type TimerHandle } from '../sip/clock.js';
import type { DigestAlgorithm, DigestServer } from '../sip/digest.js';
import { parseCSeq, parseNameAddr, splitHeaderValues } from '../sip/header-values.js';
import type { SipAddress, SipRequest } from '../sip/message.js';
import type { Responder } from '../sip/responses.js';
import { formatUri, parseUri } from '../sip/uri.js';
import type { SipUserStore, StoredSipUserRecord } from '../store/store-types.js';
import { checkSipUserDigest, offeredChallenges } from './caller-auth.js';
import type { RegistrationBinding, RegistrationDirectory } from './registrar-types.js';

export interface RegistrarOptions {
  users: Pick<SipUserStore, 'findSipUser'>;
  digest: DigestServer;
  /** Seconds; a non-zero expiry below this gets 423 Interval Too Brief (§10.3 step 7). */
  minExpires: number;
  /** Seconds; longer requests are granted this much (§10.3 step 7 lets the registrar shorten). */
  maxExpires: number;
  /** Drives the expiry timers (default: Node's timers). */
  clock?: Clock;
  /** Devices one user may have bound at once (default 10): a REGISTER beyond it gets 403. */
  maxBindingsPerUser?: number;
  /** Challenges offered, most preferred first (default SHA-256, MD5); see CallerAuthDeps.algorithms. */
  algorithms?: readonly DigestAlgorithm[];
  /** Wall clock in ms for the `registeredAt`/`expiresAt` dates the API shows (default Date.now). */
  wallNow?: () => number;
  /** Told of every 403 for wrong credentials (e.g. SipStack.reportAuthFailure, which bans guessers). */
  onAuthFailure?: (source: SipAddress) => void;
}

/** Emitted once per REGISTER that changed a user's bindings, and once per binding that expired. */
export interface RegistrationChange {
  accountSid: string;
  userSid: string;
  username: string;
  reason: 'registered' | 'unregistered' | 'expired';
  /** The user's bindings after the change. */
  bindings: RegistrationBinding[];
}

export interface RegistrarEvents {
  changed: [change: RegistrationChange];
}

/** Default expiry when neither the Contact nor the request says (§10.2.1.1, §20.10: 3600 s). */
const DEFAULT_EXPIRES = 3600;
/** §20.19: delta-seconds above 2^32-1 mean 2^32-1. */
const MAX_DELTA_SECONDS = 4294967295;
const DEFAULT_MAX_BINDINGS = 10;
/** Node timers overflow above 2^31-1 ms (~24.8 days): longer expiries are re-armed in steps. */
const MAX_TIMER_MS = 2147483647;

interface LiveBinding {
  key: string;
  binding: RegistrationBinding;
  /** On `clock`: when the binding goes away. */
  deadline: number;
  timer: TimerHandle;
}

interface UserBindings {
  accountSid: string;
  userSid: string;
  username: string;
  contacts: Map<string, LiveBinding>;
}

/** One Contact of the request, parsed (§10.3 step 6). */
interface RequestedContact {
  key: string;
  uri: string;
  instanceId: string | null;
  expires: number;
}

/** A request the registrar refuses, with the response that says why. */
class RegisterRefusal {
  constructor(
    readonly status: number,
    readonly reason: string,
    readonly headers: { name: string; value: string }[] = [],
  ) {}
}

function deltaSeconds(value: string | null | undefined): number | null {
  if (value === null || value === undefined || !/^\d+$/.test(value.trim())) return null;
  return Math.min(Number(value.trim()), MAX_DELTA_SECONDS);
}

/** `"<urn:uuid:...>"` → `urn:uuid:...` (RFC 5626 §4.1 quotes and brackets the instance id). */
function instanceIdOf(raw: string | null | undefined): string | null {
  if (raw === null || raw === undefined) return null;
  const v = raw.replace(/^"|"$/g, '').replace(/^<|>$/g, '');
  return v.length > 0 ? v : null;
}

/**
 * §10.3 step 6: the request's Contacts with their expiry (the `expires` parameter, else the
 * Expires header, else 3600; malformed values count as 3600 per §20.10). `*` → 'all'. Throws a
 * RegisterRefusal for a malformed Contact or a `*` that is not alone with Expires: 0.
 */
function requestedContacts(req: SipRequest): RequestedContact[] | 'all' {
  const values = req.headers.getAll('contact').flatMap((v) => splitHeaderValues(v));
  const header = req.headers.get('expires');
  const headerExpires = header === undefined ? DEFAULT_EXPIRES : (deltaSeconds(header) ?? DEFAULT_EXPIRES);
  if (values.some((v) => v === '*')) {
    if (values.length !== 1 || header === undefined || headerExpires !== 0) throw new RegisterRefusal(400, 'Contact * needs Expires: 0 and no other Contact');
    return 'all';
  }
  return values.map((value) => {
    const na = parseNameAddr(value);
    const uri = na ? parseUri(na.uri) : null;
    if (!na || !uri) throw new RegisterRefusal(400, 'Malformed Contact');
    const param = na.params.get('expires');
    const expires = param === undefined ? headerExpires : (deltaSeconds(param) ?? DEFAULT_EXPIRES);
    const instanceId = instanceIdOf(na.params.get('+sip.instance'));
    // formatUri(parseUri()) lower-cases scheme and host and normalises escapes: close enough to
    // §19.1.4 URI equality for recognising the same device again.
    return { key: instanceId !== null ? `instance:${instanceId}` : `uri:${formatUri(uri)}`, uri: na.uri, instanceId, expires };
  });
}

export class Registrar extends EventEmitter<RegistrarEvents> implements RegistrationDirectory {
  private readonly clock: Clock;
  private readonly wallNow: () => number;
  /** By username (unique server-wide, like the store's). */
  private readonly users = new Map<string, UserBindings>();

  constructor(private readonly opts: RegistrarOptions) {
    super();
    this.clock = opts.clock ?? systemClock;
    this.wallNow = opts.wallNow ?? Date.now;
    offeredChallenges(opts, false); // an empty algorithm list is a configuration error: fail at start
  }

  bindings(accountSid: string, userSid?: string): RegistrationBinding[] {
    const out: RegistrationBinding[] = [];
    for (const u of this.users.values()) {
      if (u.accountSid === accountSid && (userSid === undefined || u.userSid === userSid)) out.push(...this.listOf(u));
    }
    return out.sort((a, b) => b.expiresAt.getTime() - a.expiresAt.getTime());
  }

  bindingsOf(username: string): RegistrationBinding[] {
    const u = this.users.get(username);
    return u ? this.listOf(u) : [];
  }

  /** Forgets every binding and stops every timer (server shutdown). */
  close(): void {
    for (const u of this.users.values()) for (const b of u.contacts.values()) this.clock.clearTimeout(b.timer);
    this.users.clear();
  }

  /**
   * Answers one REGISTER (§10.3). Steps 1–2 (Request-URI domain, Require) need nothing here: we
   * are a single-domain registrar and the stack already answered unsupported Require with 420.
   */
  async handleRegister(req: SipRequest, source: SipAddress, respond: Responder): Promise<void> {
    // Step 5 before 3: without a usable AOR there is nobody to authenticate as.
    const to = parseNameAddr(req.headers.get('to') ?? '');
    const aor = to ? parseUri(to.uri) : null;
    if (!aor) return respond(400, { reason: 'Malformed To' });
    if ((aor.scheme !== 'sip' && aor.scheme !== 'sips') || !aor.user) return respond(404, { reason: 'Not Found' });
    const username = aor.user;

    // Steps 3–4: authenticate, then authorise: the credentials must be the AOR's own user's.
    const auth = await checkSipUserDigest(req, username, req.headers.getAll('authorization'), this.opts);
    if (auth.result === 'challenge') return respond(401, { headers: auth.challenges.map((value) => ({ name: 'WWW-Authenticate', value })) });
    if (auth.result === 'forbidden') {
      respond(403, { reason: 'Forbidden' });
      return this.opts.onAuthFailure?.(source);
    }
    const user = auth.user;

    let changed: RegistrationChange['reason'] | null;
    try {
      changed = this.apply(req, source, user);
    } catch (err) {
      if (!(err instanceof RegisterRefusal)) throw err;
      return respond(err.status, { reason: err.reason, headers: err.headers });
    }
    // Step 8: every current binding with its remaining time, whether this request changed them or not.
    const u = this.users.get(username);
    const now = this.clock.now();
    const contacts = u ? [...u.contacts.values()].map((b) => this.contactValue(b, now)) : [];
    respond(200, {
      headers: [...contacts.map((value) => ({ name: 'Contact', value })), { name: 'Date', value: new Date(this.wallNow()).toUTCString() }],
    });
    if (changed && u) this.emit('changed', this.change(u, changed));
    else if (changed) this.emit('changed', { accountSid: user.accountSid, userSid: user.sid, username, reason: changed, bindings: [] });
  }

  /**
   * Steps 6–7, all or nothing (§10.3: "binding updates MUST be committed ... if and only if all
   * binding updates and additions succeed"): every Contact is checked first, then applied.
   * Returns what changed (null for a pure query).
   */
  private apply(req: SipRequest, source: SipAddress, user: StoredSipUserRecord): RegistrationChange['reason'] | null {
    const callId = req.headers.get('call-id') ?? '';
    const cseq = parseCSeq(req.headers.get('cseq') ?? '')?.seq ?? 0;
    const requested = requestedContacts(req);
    let existing = this.users.get(user.username);
    if (existing && existing.userSid !== user.sid) {
      // The username was deleted and given to a new user: the old user's devices are not theirs.
      for (const key of [...existing.contacts.keys()]) this.remove(existing, key);
      existing = undefined;
    }

    // §10.3 step 7: the same Call-ID with a CSeq not above the stored one is an out-of-order
    // request; the update is aborted and the request fails (500, as for any failed commit).
    const outOfOrder = (key: string): boolean => {
      const b = existing?.contacts.get(key)?.binding;
      return b !== undefined && b.callId === callId && cseq <= b.cseq;
    };
    const outOfOrderRefusal = (): RegisterRefusal => new RegisterRefusal(500, 'Out-of-order REGISTER', [{ name: 'Retry-After', value: '1' }]);

    if (requested === 'all') {
      if (!existing) return null;
      const keys = [...existing.contacts.keys()];
      if (keys.some(outOfOrder)) throw outOfOrderRefusal();
      for (const key of keys) this.remove(existing, key);
      return 'unregistered';
    }
    if (requested.length === 0) return null; // a query: the 200 lists the bindings

    for (const c of requested) {
      if (c.expires !== 0 && c.expires < this.opts.minExpires) {
        throw new RegisterRefusal(423, 'Interval Too Brief', [{ name: 'Min-Expires', value: String(this.opts.minExpires) }]);
      }
    }
    if (requested.some((c) => outOfOrder(c.key))) throw outOfOrderRefusal();
    const keysAfter = new Set(existing?.contacts.keys());
    for (const c of requested) {
      if (c.expires === 0) keysAfter.delete(c.key);
      else keysAfter.add(c.key);
    }
    const maxBindings = this.opts.maxBindingsPerUser ?? DEFAULT_MAX_BINDINGS;
    if (keysAfter.size > maxBindings) throw new RegisterRefusal(403, `More than ${maxBindings} registered devices`);

    const u = existing ?? { accountSid: user.accountSid, userSid: user.sid, username: user.username, contacts: new Map<string, LiveBinding>() };
    let added = false;
    let removed = false;
    const userAgent = req.headers.get('user-agent') ?? null;
    for (const c of requested) {
      if (c.expires === 0) {
        if (u.contacts.has(c.key)) {
          this.remove(u, c.key);
          removed = true;
        }
        continue;
      }
      added = true;
      const seconds = Math.min(c.expires, this.opts.maxExpires);
      const previous = u.contacts.get(c.key);
      if (previous) this.clock.clearTimeout(previous.timer);
      const wall = this.wallNow();
      const binding: RegistrationBinding = {
        accountSid: user.accountSid,
        userSid: user.sid,
        username: user.username,
        contact: c.uri,
        // Connection-oriented devices (TCP, TLS, WS, WSS) are reached back over the connection they registered on.
        source: { transport: source.transport, host: source.host, port: source.port },
        userAgent,
        // A refresh keeps the device's first registration time.
        registeredAt: previous?.binding.registeredAt ?? new Date(wall),
        expiresAt: new Date(wall + seconds * 1000),
        callId,
        cseq,
        instanceId: c.instanceId,
      };
      const deadline = this.clock.now() + seconds * 1000;
      u.contacts.set(c.key, { key: c.key, binding, deadline, timer: this.arm(u, c.key, deadline) });
    }
    // remove() may have dropped the user from the map mid-way; the final state decides.
    if (u.contacts.size === 0) this.users.delete(u.username);
    else this.users.set(u.username, u);
    return added ? 'registered' : removed ? 'unregistered' : null;
  }

  /** One timer per binding; an expiry beyond Node's timer range is reached in several steps. */
  private arm(u: UserBindings, key: string, deadline: number): TimerHandle {
    const delay = Math.max(0, deadline - this.clock.now());
    return this.clock.setTimeout(() => {
      const live = u.contacts.get(key);
      if (!live || live.deadline !== deadline) return; // refreshed or removed meanwhile
      if (this.clock.now() < deadline) {
        live.timer = this.arm(u, key, deadline);
        return;
      }
      this.remove(u, key);
      this.emit('changed', this.change(u, 'expired'));
    }, Math.min(delay, MAX_TIMER_MS));
  }

  private remove(u: UserBindings, key: string): void {
    const live = u.contacts.get(key);
    if (!live) return;
    this.clock.clearTimeout(live.timer);
    u.contacts.delete(key);
    if (u.contacts.size === 0 && this.users.get(u.username) === u) this.users.delete(u.username);
  }

  private change(u: UserBindings, reason: RegistrationChange['reason']): RegistrationChange {
    return { accountSid: u.accountSid, userSid: u.userSid, username: u.username, reason, bindings: this.listOf(u) };
  }

  private listOf(u: UserBindings): RegistrationBinding[] {
    return [...u.contacts.values()].map((b) => ({ ...b.binding, source: { ...b.binding.source } }));
  }

  /** A 200's Contact: the bound URI, its remaining seconds, and the instance id that names it. */
  private contactValue(b: LiveBinding, now: number): string {
    const remaining = Math.max(0, Math.ceil((b.deadline - now) / 1000));
    const instance = b.binding.instanceId !== null ? `;+sip.instance="<${b.binding.instanceId}>"` : '';
    return `<${b.binding.contact}>;expires=${remaining}${instance}`;
  }
}
