/**
 * SourceGuard: per-source protection of a SIP edge on the open internet against floods, scanners
 * and password guessing — what Kamailio's pike + htable or a fail2ban jail do for other servers,
 * built into the stack so it acts before a message costs a parse.
 *
 * Per source address (IPv4 address; IPv6 /64, because one subscriber holds a whole /64 and could
 * rotate through it):
 * - a token bucket for requests; over the limit the request is dropped without any response
 *   (answering a flood amplifies it), and more than N drops within a window bans the source;
 * - scanner User-Agents (friendly-scanner, sipvicious...) are dropped silently and count to a ban;
 * - failed authentications reported by the registrar/caller auth, in a sliding window: more than
 *   M bans the source;
 * - a ban drops everything from the source (checked before parsing) for `banMs`; a source still
 *   sending above its rate limit when the ban ends stays banned for another `banMs`, so a flood
 *   never gets a fresh burst at each expiry;
 * - the table is capped (least recently seen entries evicted) and idle entries are forgotten.
 * Trusted blocks (carriers, proxies) are never limited. Nothing here sends or parses SIP.
 */
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { systemClock, type Clock, type TimerHandle } from './clock.js';
import { CidrList } from './cidr-list.js';

export type DropReason = 'banned' | 'rate' | 'scanner' | 'connections';
export type BanReason = 'rate' | 'scanner' | 'auth-failures';

/** Case-insensitive substrings of User-Agents sent by SIP scanners and toll-fraud tools. */
export const DEFAULT_SCANNER_USER_AGENTS: readonly string[] = [
  'friendly-scanner', 'sipvicious', 'sipcli', 'sip-scan', 'sipscan', 'sundayddr', 'iwar', 'vaxsipuseragent', 'pplsip', 'smap',
];

export interface SourceGuardOptions {
  clock?: Clock;
  /** Sustained requests per second per source (default 50). */
  requestsPerSecond?: number;
  /** Bucket size: requests a source may send at once (default 2 × requestsPerSecond). */
  burst?: number;
  /** Rate drops tolerated within `windowMs`; one more bans (default 100). */
  rateDropsBeforeBan?: number;
  /** Scanner requests tolerated within `windowMs`; one more bans (default 2). */
  scannerRequestsBeforeBan?: number;
  /** Window for rate drops and scanner requests (default 10 s). */
  windowMs?: number;
  /** Failed authentications tolerated within `authFailureWindowMs`; one more bans (default 10). */
  authFailuresBeforeBan?: number;
  authFailureWindowMs?: number;
  /** Ban length (default 600 s). */
  banMs?: number;
  /** Open TCP/TLS/WS connections per source (default 50). */
  maxConnectionsPerSource?: number;
  /** Sources tracked at once (default 10 000); the least recently seen is forgotten first. */
  maxSources?: number;
  /** Bans held at once (default 10 000); beyond it the oldest ban is lifted early. */
  maxBans?: number;
  /** Addresses/blocks never limited, e.g. `['203.0.113.0/24']`. */
  trusted?: readonly string[];
  /** Sources trusted by who they are rather than a fixed list (configured carriers; loopback in development). Checked on every message: keep it cheap. */
  isTrusted?: (host: string) => boolean;
  scannerUserAgents?: readonly string[];
}

export interface BanEvent {
  /** The source key: an IPv4 address or an IPv6 /64 (`2001:db8:0:1::/64`). */
  source: string;
  reason: BanReason;
  /** Ban end on the guard's clock (ms). */
  until: number;
  /** True when a source still flooding at the end of its ban was banned again. */
  renewed: boolean;
}

export interface UnbanEvent {
  source: string;
  /** expired: the ban time passed; evicted: the ban table was full; lifted: `unban` was called. */
  reason: 'expired' | 'evicted' | 'lifted';
}

export interface SourceGuardEvents {
  ban: [ev: BanEvent];
  unban: [ev: UnbanEvent];
}

export interface SourceGuardStats {
  dropped: Readonly<Record<DropReason, number>>;
  bansActive: number;
  bansTotal: Readonly<Record<BanReason, number>>;
  trackedSources: number;
}

interface SourceEntry {
  tokens: number;
  refilledAt: number;
  lastSeen: number;
  violations: number;
  violationsSince: number;
  scannerHits: number;
  scannerSince: number;
  /** Failure times within the window, oldest first (at most authFailuresBeforeBan + 1). */
  authFailures: number[];
}

interface BanRecord {
  reason: BanReason;
  until: number;
  /** The bucket keeps running during a ban to tell a source that is still flooding. */
  tokens: number;
  refilledAt: number;
  overLimitAt: number;
}

/** A banned source over its rate within this long before the ban ends is banned again. */
const RENEW_LOOKBACK_MS = 1000;
/** Idle entries removed per new source (keeps the work per packet bounded). */
const STALE_SWEEP_STEP = 16;

/** The key a source is limited under: IPv4 as is (also when IPv4-mapped), IPv6 by its /64. */
export function sourceKey(host: string): string {
  if (host.indexOf(':') < 0) return host;
  if (host.startsWith('::ffff:') && isIP(host.slice(7)) === 4) return host.slice(7);
  const groups = expandIpv6(host);
  return groups ? `${groups.slice(0, 4).join(':')}::/64` : host;
}

/** The eight 16-bit groups of an IPv6 address, lower-case without leading zeros; null if invalid. */
function expandIpv6(address: string): string[] | null {
  const zone = address.indexOf('%');
  const host = zone < 0 ? address : address.slice(0, zone);
  if (isIP(host) !== 6) return null;
  const part = (s: string): string[] => (s === '' ? [] : s.split(':').flatMap((g) => (g.includes('.') ? ['0', '0'] : [g])));
  const gap = host.indexOf('::');
  const head = part(gap < 0 ? host : host.slice(0, gap));
  const tail = gap < 0 ? [] : part(host.slice(gap + 2));
  const groups = [...head, ...Array<string>(8 - head.length - tail.length).fill('0'), ...tail];
  return groups.map((g) => Number.parseInt(g, 16).toString(16));
}

export class SourceGuard extends EventEmitter<SourceGuardEvents> {
  readonly maxConnectionsPerSource: number;
  private readonly clock: Clock;
  private readonly rate: number;
  private readonly burst: number;
  private readonly rateDropsBeforeBan: number;
  private readonly scannerRequestsBeforeBan: number;
  private readonly windowMs: number;
  private readonly authFailuresBeforeBan: number;
  private readonly authFailureWindowMs: number;
  private readonly banMs: number;
  private readonly maxSources: number;
  private readonly maxBans: number;
  private readonly idleMs: number;
  private readonly trusted: CidrList;
  private readonly extraTrust: ((host: string) => boolean) | null;
  private readonly scannerAgents: readonly string[];
  /** Least recently seen first (a Map keeps insertion order; `touch` re-inserts). */
  private readonly entries = new Map<string, SourceEntry>();
  /** Earliest end first: every ban lasts `banMs`, and a renewal re-inserts. */
  private readonly bans = new Map<string, BanRecord>();
  private expiryTimer: TimerHandle | null = null;
  private readonly dropped: Record<DropReason, number> = { banned: 0, rate: 0, scanner: 0, connections: 0 };
  private readonly bansTotal: Record<BanReason, number> = { rate: 0, scanner: 0, 'auth-failures': 0 };

  /** Throws CidrError for a malformed trusted block. */
  constructor(opts: SourceGuardOptions = {}) {
    super();
    this.clock = opts.clock ?? systemClock;
    this.rate = opts.requestsPerSecond ?? 50;
    this.burst = opts.burst ?? this.rate * 2;
    this.rateDropsBeforeBan = opts.rateDropsBeforeBan ?? 100;
    this.scannerRequestsBeforeBan = opts.scannerRequestsBeforeBan ?? 2;
    this.windowMs = opts.windowMs ?? 10_000;
    this.authFailuresBeforeBan = opts.authFailuresBeforeBan ?? 10;
    this.authFailureWindowMs = opts.authFailureWindowMs ?? 60_000;
    this.banMs = opts.banMs ?? 600_000;
    this.maxConnectionsPerSource = opts.maxConnectionsPerSource ?? 50;
    this.maxSources = opts.maxSources ?? 10_000;
    this.maxBans = opts.maxBans ?? 10_000;
    this.idleMs = Math.max(this.windowMs, this.authFailureWindowMs);
    this.trusted = new CidrList(opts.trusted ?? []);
    this.extraTrust = opts.isTrusted ?? null;
    this.scannerAgents = (opts.scannerUserAgents ?? DEFAULT_SCANNER_USER_AGENTS).map((s) => s.toLowerCase());
  }

  isTrusted(host: string): boolean {
    return this.trusted.contains(host) || (this.extraTrust?.(host) ?? false);
  }

  private trustedHost(host: string): boolean {
    return (this.trusted.size > 0 && this.trusted.contains(host)) || (this.extraTrust !== null && this.extraTrust(host));
  }

  /** True while `host`'s source is banned (no counting: for display and tests). */
  isBanned(host: string): boolean {
    const ban = this.bans.get(sourceKey(host));
    return ban !== undefined && ban.until > this.clock.now();
  }

  /**
   * Whether to process a message (or datagram, before parsing) from `host`. Everything from a banned
   * source is dropped; requests (and unparseable bytes: `isRequest` true) take a token.
   */
  admitMessage(host: string, isRequest: boolean): boolean {
    if (this.trustedHost(host)) return true;
    const key = sourceKey(host);
    const now = this.clock.now();
    const ban = this.bans.get(key);
    if (ban && !this.endIfDue(key, ban, now)) {
      this.dropped.banned++;
      if (isRequest) {
        ban.tokens = Math.min(this.burst, ban.tokens + ((now - ban.refilledAt) * this.rate) / 1000);
        ban.refilledAt = now;
        if (ban.tokens >= 1) ban.tokens -= 1;
        else ban.overLimitAt = now;
      }
      return false;
    }
    if (!isRequest) return true;
    const e = this.touch(key, now);
    e.tokens = Math.min(this.burst, e.tokens + ((now - e.refilledAt) * this.rate) / 1000);
    e.refilledAt = now;
    if (e.tokens >= 1) {
      e.tokens -= 1;
      return true;
    }
    this.dropped.rate++;
    if (now - e.violationsSince > this.windowMs) {
      e.violations = 0;
      e.violationsSince = now;
    }
    if (++e.violations > this.rateDropsBeforeBan) this.ban(key, 'rate', now, false);
    return false;
  }

  /** False (drop silently) when `userAgent` is a known scanner's; each such request counts to a ban. */
  checkUserAgent(host: string, userAgent: string | undefined): boolean {
    if (!userAgent) return true;
    const ua = userAgent.toLowerCase();
    if (!this.scannerAgents.some((s) => ua.includes(s))) return true;
    if (this.trustedHost(host)) return true;
    this.dropped.scanner++;
    const key = sourceKey(host);
    if (this.bans.has(key)) return false;
    const now = this.clock.now();
    const e = this.touch(key, now);
    if (now - e.scannerSince > this.windowMs) {
      e.scannerHits = 0;
      e.scannerSince = now;
    }
    if (++e.scannerHits > this.scannerRequestsBeforeBan) this.ban(key, 'scanner', now, false);
    return false;
  }

  /** A request from `host` carried credentials that were checked and wrong (the 403 already went). */
  reportAuthFailure(host: string): void {
    if (this.trustedHost(host)) return;
    const key = sourceKey(host);
    if (this.bans.has(key)) return;
    const now = this.clock.now();
    const e = this.touch(key, now);
    const fails = e.authFailures;
    fails.push(now);
    while (fails.length > 0 && now - fails[0]! > this.authFailureWindowMs) fails.shift();
    if (fails.length > this.authFailuresBeforeBan) this.ban(key, 'auth-failures', now, false);
  }

  /** Whether to accept another connection from `host`, which has `openFromSource` open already. */
  admitConnection(host: string, openFromSource: number): boolean {
    if (this.trustedHost(host)) return true;
    if (this.isBanned(host)) {
      this.dropped.banned++;
      return false;
    }
    if (openFromSource >= this.maxConnectionsPerSource) {
      this.dropped.connections++;
      return false;
    }
    return true;
  }

  /** Lifts a ban now (operator action); false when `host` was not banned. */
  unban(host: string): boolean {
    const key = sourceKey(host);
    if (!this.bans.has(key)) return false;
    this.release(key, 'lifted');
    return true;
  }

  /** The bans in force, earliest end first. */
  bannedSources(): { source: string; reason: BanReason; until: number }[] {
    return [...this.bans].map(([source, b]) => ({ source, reason: b.reason, until: b.until }));
  }

  get stats(): SourceGuardStats {
    return { dropped: { ...this.dropped }, bansActive: this.bans.size, bansTotal: { ...this.bansTotal }, trackedSources: this.entries.size };
  }

  /** Stops the expiry timer and forgets every source and ban (no events). */
  dispose(): void {
    if (this.expiryTimer) this.clock.clearTimeout(this.expiryTimer);
    this.expiryTimer = null;
    this.entries.clear();
    this.bans.clear();
  }

  /** The source's entry, moved to the most recently seen end; forgets it first if it was idle. */
  private touch(key: string, now: number): SourceEntry {
    let e = this.entries.get(key);
    if (e) {
      this.entries.delete(key);
      if (now - e.lastSeen > this.idleMs) e = undefined;
    } else {
      this.makeRoom(now);
    }
    e ??= { tokens: this.burst, refilledAt: now, lastSeen: now, violations: 0, violationsSince: now, scannerHits: 0, scannerSince: now, authFailures: [] };
    e.lastSeen = now;
    this.entries.set(key, e);
    return e;
  }

  private makeRoom(now: number): void {
    let n = 0;
    for (const [key, e] of this.entries) {
      if (n++ >= STALE_SWEEP_STEP || now - e.lastSeen <= this.idleMs) break;
      this.entries.delete(key);
    }
    // Full of live sources: forget the least recently seen (its counters start again if it returns).
    if (this.entries.size >= this.maxSources) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
  }

  private ban(key: string, reason: BanReason, now: number, renewed: boolean): void {
    this.entries.delete(key);
    if (!renewed && this.bans.size >= this.maxBans) {
      const oldest = this.bans.keys().next();
      if (!oldest.done) this.release(oldest.value, 'evicted');
    }
    const until = now + this.banMs;
    // A full bucket: only a source that keeps sending above its rate during the ban is renewed.
    this.bans.set(key, { reason, until, tokens: this.burst, refilledAt: now, overLimitAt: -Infinity });
    this.bansTotal[reason]++;
    this.emit('ban', { source: key, reason, until, renewed });
    if (!this.expiryTimer) this.scheduleExpiry(now);
  }

  /** Ends a ban whose time is up (true), or renews it for a source still flooding (false). */
  private endIfDue(key: string, ban: BanRecord, now: number): boolean {
    if (ban.until > now) return false;
    this.bans.delete(key);
    if (now - ban.overLimitAt <= RENEW_LOOKBACK_MS) {
      this.ban(key, ban.reason, now, true);
      return false;
    }
    this.emit('unban', { source: key, reason: 'expired' });
    return true;
  }

  private release(key: string, reason: UnbanEvent['reason']): void {
    this.bans.delete(key);
    this.emit('unban', { source: key, reason });
  }

  /** One timer, for the earliest ban end; it handles every due ban and re-arms for the next. */
  private scheduleExpiry(now: number): void {
    const first = this.bans.values().next();
    if (first.done) return;
    this.expiryTimer = this.clock.setTimeout(() => {
      this.expiryTimer = null;
      const at = this.clock.now();
      for (const [key, ban] of this.bans) {
        if (ban.until > at) break;
        this.endIfDue(key, ban, at);
      }
      if (!this.expiryTimer) this.scheduleExpiry(at);
    }, Math.max(0, first.value.until - now));
  }
}
