/**
 * Carrier SQL (SIP trunks, `TK…`): where calls to phone numbers go out and which source addresses
 * may send calls in. Each field is checked before it reaches SQL; the rules that span fields
 * (credentials come as a pair, registering needs them) are the table's named CHECKs, because a
 * patch carries only the fields it changes and the merged row is what must hold.
 */
import { isIP } from 'node:net';
import { isSid } from '../ids.js';
import type { SqlRunner } from './migrations.js';
import { buildSets, checkCommonField } from './application-sql.js';
import { invalid, iso, selectConfigPage } from './store-sql.js';
import {
  StoreError,
  SRTP_POLICY_NAMES,
  type SrtpPolicyName,
  type CarrierPatch,
  type CarrierRecord,
  type ResourceListQuery,
  type ResourcePage,
  type StoredCarrierRecord,
} from './store-types.js';

const COLUMN_OF: Readonly<Record<keyof CarrierRecord, string>> = {
  sid: 'sid',
  accountSid: 'account_sid',
  friendlyName: 'friendly_name',
  host: 'host',
  port: 'port',
  transport: 'transport',
  username: 'username',
  password: 'password',
  register: 'register',
  registerExpires: 'register_expires',
  prefixes: 'prefixes',
  priority: 'priority',
  inboundAddresses: 'inbound_addresses',
  inboundUsername: 'inbound_username',
  inboundRealm: 'inbound_realm',
  inboundHa1Md5: 'inbound_ha1_md5',
  inboundHa1Sha256: 'inbound_ha1_sha256',
  fromDomain: 'from_domain',
  techPrefix: 'tech_prefix',
  enabled: 'enabled',
  srtp: 'srtp',
};
const KEYS = Object.keys(COLUMN_OF) as (keyof CarrierRecord)[];
const PATCH_KEYS = KEYS.filter((k) => k !== 'sid' && k !== 'accountSid');
const COLUMNS_SQL = `${KEYS.map((k) => COLUMN_OF[k]).join(', ')}, date_created, date_updated`;
const TABLE = 'carriers';

/** RFC 1123 host name (labels of letters, digits and inner hyphens), at most 253 characters. */
const HOST_NAME_RE = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
/** A dialled-number prefix: digits with an optional leading `+` (`+` alone matches every E.164 number). */
const PREFIX_RE = /^\+?[0-9]*$/;
/** Characters a Request-URI user part may start with unescaped (RFC 3261 §25.1 unreserved, plus * and #, which dial plans use). */
const TECH_PREFIX_RE = /^[A-Za-z0-9*#+._~-]{0,32}$/;
/** Credentials travel in quoted-strings (RFC 2617 §3.2.2): no control characters. */
const CREDENTIAL_RE = /^[^\x00-\x1f\x7f]{1,255}$/;
/** A digest username or realm travels in a quoted-string too, where " and \ would need escaping: refused. */
const DIGEST_NAME_RE = /^[^\x00-\x1f\x7f"\\]{1,255}$/;
const MAX_LIST = 100;
const MAX_PREFIX = 16;

interface CarrierRow {
  sid: string;
  account_sid: string;
  friendly_name: string;
  host: string;
  port: number;
  transport: CarrierRecord['transport'];
  username: string | null;
  password: string | null;
  register: boolean;
  register_expires: number;
  prefixes: string[];
  priority: number;
  inbound_addresses: string[];
  inbound_username: string | null;
  inbound_realm: string | null;
  inbound_ha1_md5: string | null;
  inbound_ha1_sha256: string | null;
  from_domain: string | null;
  tech_prefix: string;
  enabled: boolean;
  srtp: SrtpPolicyName;
  date_created: Date | string;
  date_updated: Date | string;
}

function rowToCarrier(r: CarrierRow): StoredCarrierRecord {
  return {
    sid: r.sid,
    accountSid: r.account_sid,
    friendlyName: r.friendly_name,
    host: r.host,
    port: r.port,
    transport: r.transport,
    username: r.username,
    password: r.password,
    register: r.register,
    registerExpires: r.register_expires,
    prefixes: r.prefixes,
    priority: r.priority,
    inboundAddresses: r.inbound_addresses,
    inboundUsername: r.inbound_username,
    inboundRealm: r.inbound_realm,
    inboundHa1Md5: r.inbound_ha1_md5,
    inboundHa1Sha256: r.inbound_ha1_sha256,
    fromDomain: r.from_domain,
    techPrefix: r.tech_prefix,
    enabled: r.enabled,
    srtp: r.srtp,
    dateCreated: iso(r.date_created),
    dateUpdated: iso(r.date_updated),
  };
}

/** True for a host name or an IP literal (an IPv6 literal may be bracketed, as in a SIP URI). */
export function isHost(value: string): boolean {
  const bare = value.startsWith('[') && value.endsWith(']') ? value.slice(1, -1) : value;
  if (bare !== value) return isIP(bare) === 6;
  return isIP(value) !== 0 || HOST_NAME_RE.test(value);
}

/** True for an IPv4/IPv6 address or a CIDR block (`203.0.113.0/24`, `2001:db8::/32`). */
export function isAddressOrCidr(value: string): boolean {
  const slash = value.indexOf('/');
  if (slash < 0) return isIP(value) !== 0;
  const family = isIP(value.slice(0, slash));
  const bits = value.slice(slash + 1);
  if (family === 0 || !/^[0-9]{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

const isIntIn = (value: unknown, min: number, max: number): boolean => Number.isInteger(value) && (value as number) >= min && (value as number) <= max;

function isStringList(value: unknown, each: (s: string) => boolean): boolean {
  return Array.isArray(value) && value.length <= MAX_LIST && value.every((s) => typeof s === 'string' && each(s));
}

function checkField(key: keyof CarrierRecord, value: unknown): void {
  if (checkCommonField('carrier', key, value)) return;
  const bad = (what: string) => invalid(`carrier field ${key} must be ${what}, got ${JSON.stringify(value)}`);
  switch (key) {
    case 'sid':
      if (typeof value !== 'string' || !isSid('TK', value)) throw bad('a carrier SID (TK + 32 hex)');
      return;
    case 'host':
      if (typeof value !== 'string' || !isHost(value)) throw bad('a host name or IP address');
      return;
    case 'fromDomain':
      if (value !== null && (typeof value !== 'string' || !isHost(value))) throw bad('a host name, an IP address or null');
      return;
    case 'port':
      if (!isIntIn(value, 1, 65535)) throw bad('an integer from 1 to 65535');
      return;
    case 'transport':
      if (value !== 'udp' && value !== 'tcp') throw bad('udp or tcp');
      return;
    case 'username':
    case 'password':
      if (value !== null && (typeof value !== 'string' || !CREDENTIAL_RE.test(value))) throw bad('1-255 characters without control characters, or null');
      return;
    case 'register':
    case 'enabled':
      if (typeof value !== 'boolean') throw bad('true or false');
      return;
    case 'registerExpires':
      if (!isIntIn(value, 60, 86400)) throw bad('an integer from 60 to 86400 (seconds)');
      return;
    case 'priority':
      if (!isIntIn(value, 0, 1000)) throw bad('an integer from 0 to 1000');
      return;
    case 'prefixes':
      if (!isStringList(value, (s) => s.length > 0 && s.length <= MAX_PREFIX && PREFIX_RE.test(s))) {
        throw bad(`a list of at most ${MAX_LIST} number prefixes (digits with an optional leading +)`);
      }
      return;
    case 'inboundAddresses':
      if (!isStringList(value, isAddressOrCidr)) throw bad(`a list of at most ${MAX_LIST} IP addresses or CIDR blocks`);
      return;
    case 'inboundUsername':
    case 'inboundRealm':
      if (value !== null && (typeof value !== 'string' || !DIGEST_NAME_RE.test(value))) throw bad('1-255 printable characters without quotes or backslashes, or null');
      return;
    case 'inboundHa1Md5':
      if (value !== null && (typeof value !== 'string' || !/^[0-9a-f]{32}$/.test(value))) throw bad('an MD5 HA1 (32 lower-case hex) or null');
      return;
    case 'inboundHa1Sha256':
      if (value !== null && (typeof value !== 'string' || !/^[0-9a-f]{64}$/.test(value))) throw bad('a SHA-256 HA1 (64 lower-case hex) or null');
      return;
    case 'techPrefix':
      if (typeof value !== 'string' || !TECH_PREFIX_RE.test(value)) throw bad('up to 32 of A-Z a-z 0-9 * # + . _ ~ -');
      return;
    case 'srtp':
      if (!(SRTP_POLICY_NAMES as readonly unknown[]).includes(value)) throw bad('optional, required or off');
      return;
  }
}

/** The cross-field CHECKs, named in migrations.ts, as what the caller did wrong. */
function carrierError(err: unknown): unknown {
  const constraint = (err as { constraint?: unknown }).constraint;
  if (constraint === 'carriers_credentials_check') return invalid('carrier fields username and password must be given together (or both be null)');
  if (constraint === 'carriers_register_check') return invalid('carrier field register needs a username and password');
  if (constraint === 'carriers_inbound_credentials_check') return invalid('carrier fields inboundUsername and inboundPassword must be given together (or both be null)');
  if (constraint === 'carriers_inbound_username_key') return new StoreError('DUPLICATE_USERNAME', 'inboundUsername is already in use on this server');
  return err;
}

export async function insertCarrier(db: SqlRunner, given: CarrierRecord): Promise<StoredCarrierRecord> {
  const rec: CarrierRecord = { ...given, srtp: given.srtp ?? 'optional' };
  for (const key of KEYS) {
    if (rec[key] === undefined) throw invalid(`carrier field ${key} is missing`);
    checkField(key, rec[key]);
  }
  try {
    const { rows } = await db.query<CarrierRow>(
      `INSERT INTO carriers (${KEYS.map((k) => COLUMN_OF[k]).join(', ')}) VALUES (${KEYS.map((_, i) => `$${i + 1}`).join(', ')})
       RETURNING ${COLUMNS_SQL}`,
      KEYS.map((k) => rec[k]),
    );
    return rowToCarrier(rows[0] as CarrierRow);
  } catch (err) {
    throw carrierError(err);
  }
}

export async function patchCarrier(db: SqlRunner, accountSid: string, sid: string, patch: CarrierPatch): Promise<StoredCarrierRecord | null> {
  const params: unknown[] = [sid, accountSid];
  const sets = buildSets(PATCH_KEYS, COLUMN_OF, patch, checkField, params);
  try {
    const { rows } = await db.query<CarrierRow>(`UPDATE carriers SET ${sets} WHERE sid = $1 AND account_sid = $2 RETURNING ${COLUMNS_SQL}`, params);
    return rows[0] ? rowToCarrier(rows[0]) : null;
  } catch (err) {
    throw carrierError(err);
  }
}

export async function selectCarrier(db: SqlRunner, accountSid: string, sid: string): Promise<StoredCarrierRecord | null> {
  const { rows } = await db.query<CarrierRow>(`SELECT ${COLUMNS_SQL} FROM carriers WHERE sid = $1 AND account_sid = $2`, [sid, accountSid]);
  return rows[0] ? rowToCarrier(rows[0]) : null;
}

export function selectCarriers(db: SqlRunner, q: ResourceListQuery & { friendlyName?: string }): Promise<ResourcePage<StoredCarrierRecord>> {
  return selectConfigPage(db, q, { table: TABLE, columnsSql: COLUMNS_SQL, filterColumns: { friendlyName: 'friendly_name' }, toRecord: rowToCarrier });
}

/**
 * Enabled carriers in the order outbound selection tries them: priority (lower first), then the
 * older carrier, then SID so equal rows still come back in one stable order. One account's, or
 * every account's when `accountSid` is null.
 */
export async function selectEnabledCarriers(db: SqlRunner, accountSid: string | null): Promise<StoredCarrierRecord[]> {
  const { rows } = accountSid === null
    ? await db.query<CarrierRow>(`SELECT ${COLUMNS_SQL} FROM carriers WHERE enabled ORDER BY priority, date_created, sid`)
    : await db.query<CarrierRow>(`SELECT ${COLUMNS_SQL} FROM carriers WHERE enabled AND account_sid = $1 ORDER BY priority, date_created, sid`, [accountSid]);
  return rows.map(rowToCarrier);
}

export async function removeCarrier(db: SqlRunner, accountSid: string, sid: string): Promise<boolean> {
  const res = await db.query('DELETE FROM carriers WHERE sid = $1 AND account_sid = $2', [sid, accountSid]);
  return (res.affectedRows ?? 0) > 0;
}
