/**
 * What the registrar knows about registered devices, as the API and the call engine read it.
 * (The registrar itself, calls/registrar.ts, keeps these bindings per RFC 3261 §10.3.)
 */

/** One Contact bound to a SIP user's address of record by a REGISTER. */
export interface RegistrationBinding {
  accountSid: string;
  userSid: string;
  username: string;
  /** The Contact URI the device registered. */
  contact: string;
  /**
   * Where requests to the device go: the REGISTER's source (it is behind NAT more often than not).
   * For TLS/WS/WSS that is the device's connection: a WebSocket client can be reached no other way.
   */
  source: { transport: 'udp' | 'tcp' | 'tls' | 'ws' | 'wss'; host: string; port: number };
  userAgent: string | null;
  registeredAt: Date;
  expiresAt: Date;
  callId: string;
  cseq: number;
  /** RFC 5626 +sip.instance, when the device sent one. */
  instanceId: string | null;
}

export interface RegistrationDirectory {
  /** Live bindings of the account (of one user when `userSid` is given), soonest-expiring last. */
  bindings(accountSid: string, userSid?: string): RegistrationBinding[];
  /** Live bindings of a username (any account): where `client:alice` rings. */
  bindingsOf(username: string): RegistrationBinding[];
}
