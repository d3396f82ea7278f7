/**
 * Where a dialled target goes, as SIP attempts: a phone number through the account's carriers (one
 * leg, its attempts in failover order), a SIP URI as written (with its headers and credentials),
 * and a SIP user (`client:alice`, or `sip:alice@<us>`) as one leg per registered device, so every
 * device of the user rings at once. Used by `<Dial>` and by the REST API's outbound calls alike.
 */
import { parseUri } from '../sip/uri.js';
import type { HeaderField } from '../sip/message.js';
import type { CarrierStore } from '../store/store-types.js';
import type { RegistrationBinding, RegistrationDirectory } from './registrar-types.js';
import { carrierAttempt, carriersFor, type SipAttempt } from './carrier-routes.js';

export interface DialTargetsDeps {
  carriers: Pick<CarrierStore, 'enabledCarriers'>;
  /** Absent when no registrar runs: `client:` targets then have no devices. */
  registrations: RegistrationDirectory | null;
  /** `host:port` (or host, meaning port 5060) forms that mean "this server" in a SIP URI. */
  localHosts: readonly string[];
}

/** Why a target cannot be dialled: Twilio's code and words. */
export class DialTargetError extends Error {
  override readonly name = 'DialTargetError';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

const PHONE_NUMBER = /^\+?[0-9*#]{1,32}$/;

export function isPhoneNumber(target: string): boolean {
  return PHONE_NUMBER.test(target.replace(/[\s().-]/g, ''));
}

export function normalizeNumber(target: string): string {
  return target.replace(/[\s().-]/g, '');
}

export class DialTargets {
  constructor(private readonly deps: DialTargetsDeps) {}

  /** A phone number: one attempt per carrier that takes it, best first. Throws 13224-style when none does. */
  async numberAttempts(accountSid: string, number: string, headers: HeaderField[] = []): Promise<SipAttempt[]> {
    const n = normalizeNumber(number);
    const carriers = carriersFor(await this.deps.carriers.enabledCarriers(accountSid), n);
    if (carriers.length === 0) throw new DialTargetError(13224, `no carrier of this account takes ${n} (add one at /v1/carriers)`);
    return carriers.map((c) => carrierAttempt(c, n, headers));
  }

  /** A SIP URI; its `?X-Foo=bar` header part becomes INVITE headers. Null when it names one of our users (ring their devices instead). */
  sipAttempt(uri: string, headers: HeaderField[], credentials: { username: string; password: string } | null): SipAttempt {
    const parsed = parseUri(uri);
    if (!parsed || (parsed.scheme !== 'sip' && parsed.scheme !== 'sips') || !parsed.host) throw new DialTargetError(13241, `"${uri}" is not a valid SIP URI`);
    const fromUri: HeaderField[] = [...parsed.headers].map(([name, value]) => ({ name, value }));
    const bare = uri.split('?')[0]!;
    return { uri: bare, dest: null, headers: [...fromUri, ...headers], credentials, fromHost: null, via: null };
  }

  /**
   * The user a `sip:user@<us>` URI names, when it points at this server: same host and port, or
   * same host and no port when we listen on 5060. Null otherwise (a URI for some other server).
   */
  localUser(uri: string): string | null {
    const parsed = parseUri(uri.split('?')[0]!);
    if (!parsed || parsed.user === null) return null;
    const host = parsed.host.toLowerCase();
    const ours = this.deps.localHosts.some((h) => {
      const local = parseUri(`sip:${h}`);
      if (!local || local.host.toLowerCase() !== host) return false;
      return (parsed.port ?? 5060) === (local.port ?? 5060);
    });
    return ours ? parsed.user : null;
  }

  /** Every live registered device of `username` in the account: one attempt each (they ring in parallel). */
  clientAttempts(accountSid: string, username: string, headers: HeaderField[] = []): SipAttempt[] {
    const bindings = (this.deps.registrations?.bindingsOf(username) ?? []).filter((b) => b.accountSid === accountSid);
    // Most recently registered first: a single-device caller (REST) takes the freshest.
    bindings.sort((a, b) => b.registeredAt.getTime() - a.registeredAt.getTime());
    return bindings.map((b) => this.deviceAttempt(b, headers));
  }

  private deviceAttempt(b: RegistrationBinding, headers: HeaderField[]): SipAttempt {
    const host = this.deps.localHosts[0] ?? b.source.host;
    return {
      uri: b.contact,
      to: `sip:${b.username}@${host}`,
      // The device is reached where its REGISTER came from (RFC 5626's flow idea, and what NATs need).
      dest: { transport: b.source.transport, host: b.source.host, port: b.source.port },
      headers,
      credentials: null,
      fromHost: null,
      via: `device ${b.contact}`,
    };
  }
}
