/**
 * Who may send calls in. An INVITE is admitted when its source address is one a carrier lists in
 * `inboundAddresses` (a trunk or PBX; the call is attributed to that carrier), or — in development
 * mode only, which is what `npm start` runs — when it comes from loopback. A carrier may instead
 * prove itself by digest (carrier-auth.ts, with the credentials cached here). SIP users are admitted
 * before this, by their digest credentials (caller-auth.ts). Everything else is refused with 403
 * before any application or carrier is involved, so nobody unknown can reach a dial plan (toll
 * fraud). Production mode trusts only what is configured, loopback included. The same trust
 * exempts a source from the SIP flood guard's rate limits and bans (`isTrustedSource`).
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { SrtpPolicyName, StoredCarrierRecord } from '../store/store-types.js';
import type { CarrierInboundSecrets } from './carrier-auth.js';

export type InboundMode = 'development' | 'production';

export type Admission =
  | { admitted: true; via: 'carrier'; carrierSid: string; accountSid: string; srtp: SrtpPolicyName }
  | { admitted: true; via: 'loopback' }
  | { admitted: false };

export type CarrierSource = Pick<StoredCarrierRecord, 'sid' | 'accountSid' | 'inboundAddresses' | 'srtp'> &
  Partial<Pick<StoredCarrierRecord, 'inboundUsername' | 'inboundRealm' | 'inboundHa1Md5' | 'inboundHa1Sha256'>>;

export interface InboundPolicyDeps {
  mode: InboundMode;
  /** Every enabled carrier (across accounts). */
  carriers: () => Promise<CarrierSource[]>;
  /** How long the carriers' address lists are reused before the store is read again. Default 2000 ms. */
  refreshMs?: number;
  now?: () => number;
}

interface CarrierMatcher {
  srtp: SrtpPolicyName;
  sid: string;
  accountSid: string;
  list: BlockList;
}

/** `::ffff:192.0.2.1` (an IPv4 peer on a dual-stack socket) is 192.0.2.1. */
function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1]! : address;
}

export function isLoopback(address: string): boolean {
  const a = plainAddress(address);
  if (isIPv4(a)) return a.startsWith('127.');
  return isIPv6(a) && (a === '::1' || /^0*:0*:0*:0*:0*:0*:0*:0*1$/.test(a));
}

/** A BlockList of `inboundAddresses` entries (validated by the store: addresses or CIDR blocks). */
function matcherOf(addresses: readonly string[]): BlockList {
  const list = new BlockList();
  for (const entry of addresses) {
    const [addr, bits] = entry.split('/');
    if (!addr) continue;
    const family = isIPv4(addr) ? 'ipv4' : isIPv6(addr) ? 'ipv6' : null;
    if (!family) continue;
    if (bits === undefined) list.addAddress(addr, family);
    else list.addSubnet(addr, Number(bits), family);
  }
  return list;
}

export class InboundPolicy {
  private matchers: CarrierMatcher[] = [];
  /** Carriers that may authenticate by digest instead, by inbound username. */
  private digestCarriers = new Map<string, CarrierInboundSecrets>();
  private loadedAt = -Infinity;
  private loading: Promise<void> | null = null;

  constructor(private readonly deps: InboundPolicyDeps) {}

  get mode(): InboundMode {
    return this.deps.mode;
  }

  /** Whether a call from this source address may come in, and through which carrier. */
  async admitSource(address: string): Promise<Admission> {
    await this.fresh();
    const a = plainAddress(address);
    const family = isIPv4(a) ? 'ipv4' : isIPv6(a) ? 'ipv6' : null;
    if (family) {
      const carrier = this.matchers.find((m) => m.list.check(a, family));
      if (carrier) return { admitted: true, via: 'carrier', carrierSid: carrier.sid, accountSid: carrier.accountSid, srtp: carrier.srtp };
    }
    if (this.deps.mode === 'development' && isLoopback(a)) return { admitted: true, via: 'loopback' };
    return { admitted: false };
  }

  /**
   * Synchronous, for the SIP edge's flood guard (every datagram): a configured carrier's address,
   * or loopback in development mode, is never rate-limited or banned. Reads the carriers as last
   * loaded and starts a refresh in the background when they are stale.
   */
  isTrustedSource(address: string): boolean {
    if ((this.deps.now ?? Date.now)() - this.loadedAt >= (this.deps.refreshMs ?? 2000)) void this.fresh().catch(() => undefined);
    const a = plainAddress(address);
    if (this.deps.mode === 'development' && isLoopback(a)) return true;
    const family = isIPv4(a) ? 'ipv4' : isIPv6(a) ? 'ipv6' : null;
    return family !== null && this.matchers.some((m) => m.list.check(a, family));
  }

  /** Whether any enabled carrier authenticates inbound calls by digest (carrier-auth.ts). */
  async anyDigestCarrier(): Promise<boolean> {
    await this.fresh();
    return this.digestCarriers.size > 0;
  }

  /** The enabled carrier whose inbound digest username this is. */
  async digestCarrier(username: string): Promise<CarrierInboundSecrets | null> {
    await this.fresh();
    return this.digestCarriers.get(username) ?? null;
  }

  /** Carrier changes apply within `refreshMs`; one store read at a time however many INVITEs wait. */
  private async fresh(): Promise<void> {
    const now = (this.deps.now ?? Date.now)();
    if (now - this.loadedAt < (this.deps.refreshMs ?? 2000)) return;
    this.loading ??= (async () => {
      try {
        const carriers = await this.deps.carriers();
        this.matchers = carriers.filter((c) => c.inboundAddresses.length > 0).map((c) => ({ sid: c.sid, accountSid: c.accountSid, srtp: c.srtp ?? 'optional', list: matcherOf(c.inboundAddresses) }));
        this.digestCarriers = new Map(
          carriers.flatMap((c) =>
            c.inboundUsername && c.inboundRealm && c.inboundHa1Md5 && c.inboundHa1Sha256
              ? [[c.inboundUsername, { sid: c.sid, accountSid: c.accountSid, srtp: c.srtp ?? 'optional', inboundUsername: c.inboundUsername, realm: c.inboundRealm, ha1Md5: c.inboundHa1Md5, ha1Sha256: c.inboundHa1Sha256 }] as const]
              : [],
          ),
        );
        this.loadedAt = (this.deps.now ?? Date.now)();
      } finally {
        this.loading = null;
      }
    })();
    await this.loading;
  }
}
