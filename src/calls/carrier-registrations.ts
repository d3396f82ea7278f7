/**
 * Outbound registrations to carriers: every enabled carrier with `register: true` (and
 * credentials) gets a RegistrationClient that keeps our Contact bound at the carrier's registrar,
 * so carriers that send inbound calls to registered trunks only can reach us. The set follows
 * the store: a periodic sync starts clients for new carriers, and stops (unregisters, Expires: 0)
 * those removed, disabled or changed — a changed carrier gets a fresh client, since its
 * registrar, address of record or credentials may all differ. Each carrier's registration has
 * a read-only status ({ state, expiresAt, lastError }) for the API. `stop()` unregisters all.
 */
import type { Clock, TimerHandle } from '../sip/clock.js';
import { RegistrationClient, type RegistrationClientOptions, type RegistrationState } from '../sip/registration-client.js';
import type { CarrierStore, StoredCarrierRecord } from '../store/store-types.js';
import { sipUserPart } from './carrier-routes.js';

/** A carrier registration as the API shows it. */
export interface CarrierRegistrationStatus {
  state: RegistrationState;
  /** When the binding the registrar granted runs out (ISO 8601); null while not registered. */
  expiresAt: string | null;
  /** Why the last attempt failed (`403 Forbidden`, `timeout`...); null once registered. */
  lastError: string | null;
}

/** Read-only view of the registrations, by carrier SID (what the API needs). */
export interface CarrierRegistrationView {
  /** Null when the carrier is not registering (register: false, disabled, unknown). */
  status(carrierSid: string): CarrierRegistrationStatus | null;
}

export interface CarrierRegistrationsOptions {
  carriers: Pick<CarrierStore, 'allEnabledCarriers'>;
  stack: RegistrationClientOptions['stack'];
  /** Timers for the sync and the clients' refreshes; default: the stack's clock. */
  clock?: Clock;
  /** Wall clock for `expiresAt`; default: Date. */
  now?: () => Date;
  /** How often the store is re-read; default 15 s. */
  syncIntervalMs?: number;
  /** A sync that failed (store unreadable); existing registrations are kept. */
  onError?: (err: Error) => void;
  /** A carrier's registration changed state (for logs). */
  onStatus?: (carrierSid: string, status: CarrierRegistrationStatus) => void;
}

/** One carrier's registration: its client (null when the carrier's settings cannot register) and status. */
interface Entry {
  fingerprint: string;
  client: RegistrationClient | null;
  status: CarrierRegistrationStatus;
}

const DEFAULT_SYNC_MS = 15_000;
/** A registrar that never answers our un-REGISTER must not hold the shutdown (Timer F is 32 s). */
const STOP_GRACE_MS = 5_000;

const wantsRegistration = (c: StoredCarrierRecord): boolean => c.enabled && c.register && c.username !== null && c.password !== null;

/** Everything that shapes the REGISTERs: when it changes, the old binding goes and a new one is made. */
const fingerprintOf = (c: StoredCarrierRecord): string =>
  JSON.stringify([c.host, c.port, c.transport, c.username, c.password, c.registerExpires, c.fromDomain]);

/** The carrier's address of record: sip:<username>@<fromDomain ?? host>. */
export function carrierAor(c: Pick<StoredCarrierRecord, 'username' | 'fromDomain' | 'host'>): string {
  const domain = c.fromDomain ?? c.host;
  const host = domain.includes(':') && !domain.startsWith('[') ? `[${domain}]` : domain;
  return `sip:${sipUserPart(c.username ?? '')}@${host}`;
}

export class CarrierRegistrations implements CarrierRegistrationView {
  private readonly entries = new Map<string, Entry>();
  private readonly clock: Clock;
  private readonly now: () => Date;
  private timer: TimerHandle | null = null;
  private syncing: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly opts: CarrierRegistrationsOptions) {
    this.clock = opts.clock ?? opts.stack.clock;
    this.now = opts.now ?? (() => new Date());
  }

  /** Syncs now (registering every carrier that asks for it), then every `syncIntervalMs`. */
  async start(): Promise<void> {
    await this.sync();
    this.schedule();
  }

  status(carrierSid: string): CarrierRegistrationStatus | null {
    const e = this.entries.get(carrierSid);
    return e ? { ...e.status } : null;
  }

  /** Every registering carrier's status, by SID. */
  statuses(): Map<string, CarrierRegistrationStatus> {
    return new Map([...this.entries].map(([sid, e]) => [sid, { ...e.status }]));
  }

  /** One reconciliation with the store; concurrent calls share the one in progress. */
  sync(): Promise<void> {
    this.syncing ??= this.reconcile().finally(() => (this.syncing = null));
    return this.syncing;
  }

  /** Stops syncing and unregisters every carrier (bounded wait). Resolves when done; never rejects. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) this.clock.clearTimeout(this.timer);
    this.timer = null;
    await this.syncing;
    const removals = [...this.entries.keys()].map((sid) => this.remove(sid));
    let grace: TimerHandle | null = null;
    const timeout = new Promise<void>((resolve) => (grace = this.clock.setTimeout(resolve, STOP_GRACE_MS)));
    await Promise.race([Promise.all(removals), timeout]);
    if (grace) this.clock.clearTimeout(grace);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      void this.sync().then(() => this.schedule());
    }, this.opts.syncIntervalMs ?? DEFAULT_SYNC_MS);
  }

  private async reconcile(): Promise<void> {
    if (this.stopped) return;
    let carriers: StoredCarrierRecord[];
    try {
      carriers = (await this.opts.carriers.allEnabledCarriers()).filter(wantsRegistration);
    } catch (err) {
      this.opts.onError?.(err as Error);
      return;
    }
    if (this.stopped) return;
    const wanted = new Map(carriers.map((c) => [c.sid, c]));
    const removals: Promise<void>[] = [];
    for (const [sid, entry] of this.entries) {
      const c = wanted.get(sid);
      if (!c || fingerprintOf(c) !== entry.fingerprint) removals.push(this.remove(sid));
    }
    // The old binding goes before a changed carrier's new one is made (same registrar, same AOR maybe).
    await Promise.all(removals);
    if (this.stopped) return;
    for (const c of carriers) if (!this.entries.has(c.sid)) this.add(c);
  }

  private add(c: StoredCarrierRecord): void {
    const entry: Entry = { fingerprint: fingerprintOf(c), client: null, status: { state: 'idle', expiresAt: null, lastError: null } };
    this.entries.set(c.sid, entry);
    let client: RegistrationClient;
    try {
      client = new RegistrationClient({
        stack: this.opts.stack,
        registrar: { transport: c.transport, host: c.host, port: c.port },
        aor: carrierAor(c),
        username: c.username!,
        password: c.password!,
        expires: c.registerExpires,
        clock: this.clock,
      });
    } catch (err) {
      // Settings that cannot register (an address of record that does not parse): shown, not retried until changed.
      this.update(c.sid, entry, { state: 'failed', expiresAt: null, lastError: (err as Error).message });
      return;
    }
    entry.client = client;
    client.on('registered', (seconds) => {
      this.update(c.sid, entry, { state: 'registered', expiresAt: new Date(this.now().getTime() + seconds * 1000).toISOString(), lastError: null });
    });
    client.on('failed', (status, reason) => {
      // The reason already names the status (`403 Forbidden`); null status means timeout or transport error.
      this.update(c.sid, entry, { state: 'failed', expiresAt: null, lastError: reason || `status ${status ?? 'none'}` });
    });
    client.start();
    this.update(c.sid, entry, { state: client.state, expiresAt: null, lastError: null });
  }

  /** Forgets the carrier and removes its binding (Expires: 0). */
  private async remove(sid: string): Promise<void> {
    const entry = this.entries.get(sid);
    if (!entry) return;
    this.entries.delete(sid);
    entry.client?.removeAllListeners();
    let removed: boolean | undefined;
    try {
      removed = await entry.client?.stop();
    } catch (err) {
      this.opts.onError?.(err as Error);
      return;
    }
    if (removed === false) this.opts.onError?.(new Error(`carrier ${sid}: the registrar did not confirm the removal of our binding`));
  }

  private update(sid: string, entry: Entry, status: CarrierRegistrationStatus): void {
    if (this.entries.get(sid) !== entry) return; // a late event from a client already replaced
    entry.status = status;
    this.opts.onStatus?.(sid, { ...status });
  }
}
