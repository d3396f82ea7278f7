/**
 * A list of address blocks (CIDR notation, IPv4 and IPv6) to test source addresses against, e.g.
 * the trusted sources the SourceGuard never limits. Matching uses Node's BlockList, which also
 * matches IPv4-mapped IPv6 sources (`::ffff:10.0.0.1`) against IPv4 blocks, as a dual-stack socket
 * reports IPv4 peers that way.
 */
import { BlockList, isIP } from 'node:net';

export class CidrError extends Error {
  override readonly name = 'CidrError';
  readonly code = 'SIP_BAD_CIDR';
}

export interface Cidr {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
}

/** Parses `10.0.0.0/8`, `2001:db8::/32` or a bare address (a /32 or /128); throws CidrError. */
export function parseCidr(text: string): Cidr {
  const trimmed = text.trim();
  const slash = trimmed.indexOf('/');
  const address = slash < 0 ? trimmed : trimmed.slice(0, slash);
  const version = isIP(address);
  if (version === 0) throw new CidrError(`"${text}" is not an IP address or CIDR block`);
  const max = version === 4 ? 32 : 128;
  const prefixText = slash < 0 ? String(max) : trimmed.slice(slash + 1);
  const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : NaN;
  if (!(prefix >= 0 && prefix <= max)) throw new CidrError(`"${text}" has a prefix length outside 0-${max}`);
  return { address, prefix, family: version === 4 ? 'ipv4' : 'ipv6' };
}

export class CidrList {
  private readonly list = new BlockList();
  readonly size: number;

  /** Throws CidrError on the first entry that is not an address or block. */
  constructor(entries: readonly string[]) {
    for (const e of entries) {
      const c = parseCidr(e);
      this.list.addSubnet(c.address, c.prefix, c.family);
    }
    this.size = entries.length;
  }

  /** True when `host` (an IP address as a socket reports it) falls in one of the blocks. */
  contains(host: string): boolean {
    if (this.size === 0) return false;
    const version = isIP(host);
    return version !== 0 && this.list.check(host, version === 4 ? 'ipv4' : 'ipv6');
  }
}
