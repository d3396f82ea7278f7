/**
 * How Patchbay connects to URLs that apps supply (documents, callbacks, `<Play>` media, Media
 * Streams): one object, built once from the config, handed to every client that makes such
 * connections so they cannot disagree.
 *
 *  - Certificates are always verified (Node's default; nothing here ever sets
 *    `rejectUnauthorized: false`). `extraCa` adds PEM certificates to Node's bundled roots for
 *    apps behind a private CA (`--webhook-ca`); NODE_EXTRA_CA_CERTS works too, process-wide.
 *  - With `blockPrivate`, private, loopback, link-local and other non-public addresses are refused
 *    (address-policy.ts): IP literals by `check()` before connecting, names by the lookup hook
 *    on the address actually connected to, on every redirect hop since each hop connects anew.
 */
import { rootCertificates } from 'node:tls';
import type { LookupFunction } from 'node:net';
import { CidrList } from '../sip/cidr-list.js';
import { blockedUrlHost, guardedLookup } from './address-policy.js';

export interface EgressPolicyOptions {
  /** Refuse non-public addresses (multi-tenant installs). Default false: development apps run on loopback. */
  blockPrivate?: boolean;
  /** Addresses or CIDR blocks reachable although their range is blocked (an internal app server). */
  allowedNetworks?: readonly string[];
  /** PEM text of extra trusted CA certificates, added to (not replacing) Node's bundled roots. */
  extraCa?: string;
  /** DNS resolution override (tests; custom resolvers); the block check wraps it. */
  lookup?: LookupFunction;
}

/** Socket options for node:http/https and ws requests to app URLs. */
export interface EgressSocketOptions {
  lookup?: LookupFunction;
  ca?: string[];
}

export class EgressPolicy {
  readonly blockPrivate: boolean;
  private readonly socket: EgressSocketOptions;
  private readonly allowed: CidrList;

  /** Throws CidrError when an `allowedNetworks` entry is not an address or block. */
  constructor(opts: EgressPolicyOptions = {}) {
    this.blockPrivate = opts.blockPrivate ?? false;
    this.allowed = new CidrList(opts.allowedNetworks ?? []);
    const lookup = this.blockPrivate ? guardedLookup(opts.lookup, this.allowed) : opts.lookup;
    // `ca` replaces Node's roots when given, so the bundled ones are passed along with the extra ones.
    this.socket = {
      ...(lookup ? { lookup } : {}),
      ...(opts.extraCa ? { ca: [...rootCertificates, opts.extraCa] } : {}),
    };
  }

  /** Throws BlockedAddressError (address-policy.ts) when `url` names a blocked IP literal (names are checked at connect time). */
  check(url: URL): void {
    if (!this.blockPrivate) return;
    const refused = blockedUrlHost(url, this.allowed);
    if (refused) throw refused;
  }

  /** Options to spread into every request or WebSocket to an app URL. */
  socketOptions(): EgressSocketOptions {
    return this.socket;
  }
}

