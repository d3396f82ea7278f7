/**
 * Which network addresses app-supplied URLs may reach when an install blocks private networks
 * (`--block-private-webhooks`, for multi-tenant installs where a tenant's `<Play>`, `action` or
 * `<Stream>` URL must not become a way to probe the operator's internal network or the cloud
 * metadata service at 169.254.169.254).
 *
 * The check runs on the address a socket is about to connect to, not on the host name: the DNS
 * lookup hook (`guardedLookup`) filters what the resolver returned, so a name that resolves to a
 * public address when checked and to 127.0.0.1 when connecting (DNS rebinding) cannot slip
 * through: there is only one resolution, and it is the one connected to. IP literals never reach
 * a lookup hook (Node connects to them directly), so `blockedUrlHost` checks them beforehand.
 *
 * IPv6 forms that embed an IPv4 address (IPv4-mapped ::ffff:a.b.c.d, RFC 4291 §2.5.5.2; the
 * deprecated IPv4-compatible ::a.b.c.d; NAT64 64:ff9b::/96, RFC 6052; 6to4 2002::/16, RFC 3056)
 * are judged by the IPv4 address they carry, since a dual-stack host or a translator delivers them there.
 * An operator's `allowed` networks (an internal app server) are exempt.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import type { CidrList } from '../sip/cidr-list.js';

export const BLOCKED_ADDRESS_CODE = 'ERR_PATCHBAY_BLOCKED_ADDRESS';

/** A connection refused by the policy; `code` lets socket-error mappers recognise it. */
export class BlockedAddressError extends Error {
  override readonly name = 'BlockedAddressError';
  readonly code = BLOCKED_ADDRESS_CODE;
  constructor(
    readonly host: string,
    readonly address: string,
    /** Why, e.g. `loopback 127.0.0.0/8`. */
    readonly range: string,
  ) {
    super(`${host === address ? address : `${host} (${address})`} is a ${range} address; private and loopback addresses are blocked for app URLs (--block-private-webhooks)`);
  }
}

/** [first address as a 32-bit number, prefix length, description]. */
const V4_RANGES: ReadonlyArray<readonly [number, number, string]> = [
  [v4('0.0.0.0'), 8, '"this network" 0.0.0.0/8'],
  [v4('10.0.0.0'), 8, 'private 10.0.0.0/8'],
  [v4('100.64.0.0'), 10, 'carrier-grade NAT 100.64.0.0/10'],
  [v4('127.0.0.0'), 8, 'loopback 127.0.0.0/8'],
  [v4('169.254.0.0'), 16, 'link-local (cloud metadata) 169.254.0.0/16'],
  [v4('172.16.0.0'), 12, 'private 172.16.0.0/12'],
  [v4('192.0.0.0'), 24, 'IETF protocol assignments 192.0.0.0/24'],
  [v4('192.168.0.0'), 16, 'private 192.168.0.0/16'],
  [v4('198.18.0.0'), 15, 'benchmarking 198.18.0.0/15'],
  [v4('224.0.0.0'), 4, 'multicast 224.0.0.0/4'],
  [v4('240.0.0.0'), 4, 'reserved 240.0.0.0/4'],
];

function v4(address: string): number {
  return address.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

function v4Range(n: number): string | null {
  for (const [base, bits, name] of V4_RANGES) {
    const size = 2 ** (32 - bits);
    if (n >= base && n < base + size) return name;
  }
  return null;
}

/** The eight 16-bit groups of an IPv6 address (zone index dropped), or null if it is not one. */
function v6Groups(address: string): number[] | null {
  let text = address.replace(/%.*$/, '');
  // A trailing dotted quad (::ffff:1.2.3.4) is the last two groups written another way.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    if (isIP(dotted[1]!) !== 4) return null;
    const n = v4(dotted[1]!);
    text = text.slice(0, -dotted[1]!.length) + `${Math.floor(n / 65536).toString(16)}:${(n % 65536).toString(16)}`;
  }
  const parse = (s: string): number[] => (s === '' ? [] : s.split(':').map((h) => (/^[0-9a-f]{1,4}$/i.test(h) ? parseInt(h, 16) : NaN)));
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  const explicit = head.length + rest.length;
  if (halves.length === 1 ? explicit !== 8 : explicit > 7) return null;
  const groups = [...head, ...new Array<number>(8 - explicit).fill(0), ...rest];
  return groups.every((g) => Number.isInteger(g)) ? groups : null;
}

function v6Range(g: number[]): string | null {
  const zeros = (from: number, to: number): boolean => g.slice(from, to).every((x) => x === 0);
  const embedded = (hi: number, lo: number): string | null => {
    const inner = v4Range(hi * 65536 + lo);
    return inner === null ? null : `${inner} (embedded in IPv6)`;
  };
  if (zeros(0, 8)) return 'unspecified ::';
  if (zeros(0, 7) && g[7] === 1) return 'loopback ::1';
  if (zeros(0, 5) && g[5] === 0xffff) return embedded(g[6]!, g[7]!); // ::ffff:a.b.c.d
  if (zeros(0, 6)) return embedded(g[6]!, g[7]!) ?? 'IPv4-compatible ::/96';
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return embedded(g[6]!, g[7]!); // NAT64
  if (g[0] === 0x2002) return embedded(g[1]!, g[2]!); // 6to4
  if ((g[0]! & 0xfe00) === 0xfc00) return 'unique local fc00::/7';
  if ((g[0]! & 0xffc0) === 0xfe80) return 'link-local fe80::/10';
  if ((g[0]! & 0xff00) === 0xff00) return 'multicast ff00::/8';
  return null;
}

/** The blocked range `address` falls in (e.g. `loopback 127.0.0.0/8`), or null when it may be reached. */
export function blockedRange(address: string): string | null {
  const bare = address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
  const family = isIP(bare.replace(/%.*$/, ''));
  if (family === 4) return v4Range(v4(bare));
  if (family === 6) {
    const groups = v6Groups(bare);
    return groups === null ? 'unparseable IPv6' : v6Range(groups);
  }
  return null;
}

function refusal(address: string, allowed: CidrList | undefined): string | null {
  return allowed?.contains(address) ? null : blockedRange(address);
}

/**
 * For a URL whose host is an IP literal: the BlockedAddressError to refuse it with, else null.
 * Host names return null here; their addresses are checked by `guardedLookup` at connect time.
 */
export function blockedUrlHost(url: URL, allowed?: CidrList): BlockedAddressError | null {
  const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  if (isIP(host) === 0) return null;
  const range = refusal(host, allowed);
  return range === null ? null : new BlockedAddressError(host, host, range);
}

/**
 * A lookup function for sockets (http/https/ws `lookup` option) that drops blocked addresses from
 * what `base` resolved and fails with BlockedAddressError when none is left. Handles both lookup
 * shapes Node uses: one address, and `all: true` (happy eyeballs) with a list.
 */
export function guardedLookup(base: LookupFunction = dnsLookup as LookupFunction, allowed?: CidrList): LookupFunction {
  return (hostname: string, options: LookupOptions, callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void): void => {
    // Always ask for every address, so one blocked answer cannot hide an allowed one behind it.
    base(hostname, { ...options, all: true }, (err, address, family) => {
      if (err) return callback(err, address, family);
      const list: LookupAddress[] = Array.isArray(address) ? address : [{ address, family: family ?? isIP(address) }];
      const usable = list.filter((a) => refusal(a.address, allowed) === null);
      if (usable.length === 0) {
        const first = list[0];
        const refused = new BlockedAddressError(hostname, first?.address ?? '?', first ? (refusal(first.address, allowed) ?? 'unknown') : 'empty answer');
        return callback(refused, Array.isArray(address) ? [] : '', family);
      }
      if (options.all === true) return callback(null, usable);
      return callback(null, usable[0]!.address, usable[0]!.family);
    });
  };
}
