/**
 * Configuration: ONE typed object, read once at start from command-line flags and `PATCHBAY_*`
 * environment variables (a flag wins over its variable), validated up front so a typo fails at
 * start with a message naming the flag or variable, not minutes later inside a call.
 * This is the only module that reads the environment: `loadConfig` takes `env` as a parameter
 * (tests pass their own) and falls back to process.env only as its default.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { CidrError, parseCidr } from './sip/cidr-list.js';

export type HttpMethod = 'GET' | 'POST';
export type StatusCallbackEventName = 'initiated' | 'ringing' | 'answered' | 'completed';

export interface PatchbayConfig {
  /** SIP bind address (UDP and TCP). Default 0.0.0.0: every interface, as a server usually wants. */
  sipHost: string;
  /** 5060; 0 picks a free port (tests). */
  sipPort: number;
  httpHost: string;
  /** 8080; 0 picks a free port (tests). */
  httpPort: number;
  rtpPortMin: number;
  rtpPortMax: number;
  /**
   * Address put in Contact and SDP. Null when not configured: the server then derives it from
   * the SIP bind address (if that is 0.0.0.0/::, the first non-internal IPv4, else 127.0.0.1).
   */
  publicIp: string | null;
  /** Absolute path. */
  dataDir: string;
  voiceUrl: string | null;
  voiceMethod: HttpMethod;
  statusCallback: string | null;
  statusCallbackMethod: HttpMethod;
  /** Which call status changes are posted to statusCallback (Twilio's default: completed). */
  statusCallbackEvents: StatusCallbackEventName[];
  fallbackUrl: string | null;
  fallbackMethod: HttpMethod;
  webhookTimeoutMs: number;
  accountSid: string | null;
  authToken: string | null;
  drainGraceMs: number;
  logLevel: string;
  maxCalls: number;
  /** Per account: outbound API calls started per second, and live at once; calls over either wait `queued`. */
  accountCallsPerSecond: number;
  accountMaxCalls: number;
  /** Per account: inbound calls admitted per second, and the account's calls live at once (0 = no limit); over either → 503. */
  accountInboundCallsPerSecond: number;
  accountInboundMaxCalls: number;
  /** Digest realm for SIP users (REGISTER and their calls); users' stored secrets are bound to it. */
  sipRealm: string;
  /** Digest algorithms offered to SIP users, most preferred first (RFC 8760: SHA-256, then MD5 for older phones). */
  sipDigestAlgorithms: ('SHA-256' | 'MD5')[];
  /** Registration lifetimes accepted from devices, seconds: shorter requests get 423, longer are cut down. */
  registerMinExpires: number;
  registerMaxExpires: number;
  /** Base URL apps use to reach this server's HTTP API (RecordingUrl...). Null: derived at start. */
  publicUrl: string | null;
  /**
   * development (`npm start`): calls from loopback are trusted; production: only configured carriers'
   * addresses and authenticated SIP users may call in, loopback included.
   */
  mode: 'development' | 'production';
  /** Per-source protection of the SIP edge: rate limits, bans, connection caps (SourceGuard). */
  sipGuard: SipGuardConfig;
  /** SIP over TLS, WebSocket and secure WebSocket (RFC 7118): ports (null: off) and certificate. */
  sipTransports: SipTransportsConfig;
  speech: SpeechConfig;
  /** How Patchbay connects to URLs apps supply: documents, callbacks, <Play> media, Media Streams. */
  appUrls: AppUrlConfig;
  /** Whether GET /metrics asks for an account's Basic-auth credentials (default: public, for scrapers). */
  metricsAuth: boolean;
}

export interface AppUrlConfig {
  /** Refuse private, loopback and link-local addresses (multi-tenant installs); default false. */
  blockPrivate: boolean;
  /** Addresses or CIDR blocks reachable although blockPrivate covers them (an internal app server). */
  allowedNetworks: string[];
  /** Extra trusted CA certificates (PEM text of --webhook-ca), added to Node's bundled roots. */
  caPem: string | null;
  /** Largest <Play> media file accepted, bytes. */
  mediaMaxBytes: number;
}

export interface SipGuardConfig {
  /** Requests per second per source, and how many it may send at once. */
  requestsPerSecond: number;
  burst: number;
  banMs: number;
  /** Wrong credentials tolerated from one source within the window; one more bans it. */
  authFailuresBeforeBan: number;
  authFailureWindowMs: number;
  /** Open TCP connections per source. */
  maxConnectionsPerSource: number;
  /** CIDR blocks never limited (carriers, proxies, load balancers). */
  trustedSources: string[];
}

export interface SipTransportsConfig {
  /** 5061; 0 picks a free port (tests); null: no TLS. */
  tlsPort: number | null;
  /** 8088; null: no WS. */
  wsPort: number | null;
  /** 8089; null: no WSS. */
  wssPort: number | null;
  /** PEM files (absolute paths), both or neither; neither: a development certificate in development mode. */
  certFile: string | null;
  keyFile: string | null;
}

/** Speech engines: the embedded defaults plus cloud engines enabled by their keys (environment only). */
export interface SpeechConfig {
  /** Engine for Gathers that do not name one: pocketsphinx, deepgram, openai or websocket. */
  defaultRecognizer: string;
  deepgramApiKey: string | null;
  openaiApiKey: string | null;
  elevenlabsApiKey: string | null;
  /** A recognizer speaking Patchbay's custom WebSocket protocol (docs/speech-recognition.md). */
  recognizerUrl: string | null;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'CONFIG_INVALID';
  constructor(
    message: string,
    /** The flag or variable at fault, e.g. `--sip-port` or `PATCHBAY_SIP_PORT`. */
    readonly setting?: string,
  ) {
    super(message);
  }
}

interface Setting {
  /** Flag without dashes; the variable is PATCHBAY_ + upper-snake of it. */
  flag: string;
  arg: string;
  help: string;
  /** Shown in --help; the value used when neither flag nor variable is set. */
  default?: string;
  /** Secrets are read from the environment only: command lines are visible in `ps`. */
  envOnly?: boolean;
}

const SETTINGS: readonly Setting[] = [
  { flag: 'sip-host', arg: 'ip', help: 'SIP bind address', default: '0.0.0.0' },
  { flag: 'sip-port', arg: 'port', help: 'SIP port, UDP and TCP (0: any free port)', default: '5060' },
  { flag: 'http-host', arg: 'ip', help: 'HTTP (REST API, metrics) bind address', default: '0.0.0.0' },
  { flag: 'http-port', arg: 'port', help: 'HTTP port (0: any free port)', default: '8080' },
  { flag: 'rtp-ports', arg: 'min-max', help: 'UDP port range for RTP media', default: '20000-29999' },
  { flag: 'public-ip', arg: 'ip', help: 'address advertised in SIP Contact and SDP (default: derived from --sip-host)' },
  { flag: 'data-dir', arg: 'path', help: 'directory for the database and caches', default: './data' },
  { flag: 'voice-url', arg: 'url', help: 'application URL fetched for every inbound call' },
  { flag: 'voice-method', arg: 'GET|POST', help: 'HTTP method for --voice-url', default: 'POST' },
  { flag: 'status-callback', arg: 'url', help: 'URL told about call status changes' },
  { flag: 'status-callback-method', arg: 'GET|POST', help: 'HTTP method for --status-callback', default: 'POST' },
  { flag: 'status-callback-event', arg: 'events', help: 'space/comma list of initiated ringing answered completed', default: 'completed' },
  { flag: 'fallback-url', arg: 'url', help: 'application URL used when --voice-url fails' },
  { flag: 'fallback-method', arg: 'GET|POST', help: 'HTTP method for --fallback-url', default: 'POST' },
  { flag: 'webhook-timeout', arg: 'seconds', help: 'time allowed for each webhook request', default: '15' },
  { flag: 'account-sid', arg: 'AC…', help: 'account SID (AC + 32 hex); generated on first start if unset' },
  { flag: 'auth-token', arg: 'token', help: 'auth token for the account (environment only)', envOnly: true },
  { flag: 'drain-grace', arg: 'seconds', help: 'on SIGTERM, how long live calls may continue', default: '30' },
  { flag: 'log-level', arg: 'level', help: 'fatal, error, warn, info, debug, trace or silent', default: 'info' },
  { flag: 'max-calls', arg: 'n', help: 'concurrent calls accepted before answering 503', default: '2000' },
  { flag: 'account-cps', arg: 'n', help: 'per account: outbound API calls started per second (more wait queued)', default: '10' },
  { flag: 'account-max-calls', arg: 'n', help: 'per account: outbound API calls live at once (more wait queued)', default: '100' },
  { flag: 'account-inbound-cps', arg: 'n', help: 'per account: inbound calls admitted per second (burst 2 s worth; more get 503; 0 = no limit)', default: '50' },
  { flag: 'account-inbound-max-calls', arg: 'n', help: "per account: inbound calls refused with 503 while the account has this many calls live (0 = no limit)", default: '500' },
  { flag: 'sip-realm', arg: 'realm', help: 'digest realm for SIP users (changing it invalidates their stored secrets)', default: 'patchbay' },
  { flag: 'sip-digest-algorithms', arg: 'list', help: 'digest algorithms offered to SIP users: SHA-256,MD5 (some older phones, e.g. baresip 1.0, need MD5 alone)', default: 'SHA-256,MD5' },
  { flag: 'register-min-expires', arg: 's', help: 'shortest registration accepted from a device, seconds (shorter gets 423)', default: '60' },
  { flag: 'register-max-expires', arg: 's', help: 'longest registration granted to a device, seconds', default: '3600' },
  { flag: 'mode', arg: 'development|production', help: 'production trusts only configured carriers and SIP users; development also trusts loopback (--production is short for --mode production)', default: 'development' },
  { flag: 'sip-rate-limit', arg: 'n[/burst]', help: 'SIP requests per second per source address (burst: at once, default 2n); more are dropped and a sustained excess bans', default: '50/100' },
  { flag: 'sip-ban-seconds', arg: 's', help: 'how long a flooding, scanning or password-guessing source is ignored', default: '600' },
  { flag: 'sip-auth-failures-before-ban', arg: 'n[/s]', help: 'wrong SIP credentials tolerated per source within s seconds before a ban', default: '10/60' },
  { flag: 'sip-max-connections-per-source', arg: 'n', help: 'open SIP TCP connections per source address', default: '50' },
  { flag: 'sip-trusted-sources', arg: 'cidrs', help: 'comma/space list of addresses or CIDR blocks never rate-limited or banned (carriers, proxies)' },
  { flag: 'block-private-webhooks', arg: 'true|false', help: 'refuse app URLs (webhooks, <Play>, streams) that resolve to private, loopback or link-local addresses (multi-tenant installs)', default: 'false' },
  { flag: 'webhook-allowed-networks', arg: 'cidrs', help: 'comma/space list of addresses or CIDR blocks app URLs may reach although --block-private-webhooks covers them' },
  { flag: 'webhook-ca', arg: 'file', help: 'PEM file of extra CA certificates trusted for https:// and wss:// app URLs (certificates are always verified)' },
  { flag: 'media-max-size', arg: 'MB', help: 'largest <Play> media file fetched', default: '50' },
  { flag: 'metrics-auth', arg: 'true|false', help: 'require an account\'s Basic-auth credentials for GET /metrics', default: 'false' },
  { flag: 'tls-port', arg: 'port|off', help: 'SIP over TLS port (0: any free port)', default: '5061' },
  { flag: 'tls-cert', arg: 'file', help: 'PEM certificate (chain) for SIP TLS and WSS; without one, development mode generates a self-signed pair in <data-dir>/tls and production disables TLS/WSS' },
  { flag: 'tls-key', arg: 'file', help: 'PEM private key of --tls-cert' },
  { flag: 'ws-port', arg: 'port|off', help: 'SIP over WebSocket port for browser softphones (RFC 7118)', default: '8088' },
  { flag: 'wss-port', arg: 'port|off', help: 'SIP over secure WebSocket port (needs a certificate, see --tls-cert)', default: '8089' },
  { flag: 'public-url', arg: 'url', help: 'base URL apps use to reach the HTTP API, e.g. for RecordingUrl (default: from --public-ip and --http-port)' },
  { flag: 'speech-recognizer', arg: 'name', help: 'default speech recognizer: pocketsphinx, deepgram, openai or websocket', default: 'pocketsphinx' },
  { flag: 'recognizer-url', arg: 'ws-url', help: 'custom speech recognizer speaking the WebSocket protocol of docs/speech-recognition.md' },
  { flag: 'deepgram-api-key', arg: 'key', help: 'enables the Deepgram recognizer (environment only)', envOnly: true },
  { flag: 'openai-api-key', arg: 'key', help: 'enables the OpenAI recognizer and voices (environment only)', envOnly: true },
  { flag: 'elevenlabs-api-key', arg: 'key', help: 'enables ElevenLabs voices (environment only)', envOnly: true },
];

export function envName(flag: string): string {
  return 'PATCHBAY_' + flag.toUpperCase().replace(/-/g, '_');
}

/** The settings section of `patchbay start --help`. */
export function configHelp(): string {
  const rows = SETTINGS.map((s) => {
    const left = s.envOnly ? `${envName(s.flag)}=<${s.arg}>` : `--${s.flag} <${s.arg}>`;
    const right = `${s.help}${s.default !== undefined ? ` [${s.default}]` : ''}${s.envOnly ? '' : `  (${envName(s.flag)})`}`;
    return `  ${left.padEnd(36)} ${right}`;
  });
  return `Settings (flags win over PATCHBAY_* environment variables):\n${rows.join('\n')}\n`;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const STATUS_EVENTS: readonly StatusCallbackEventName[] = ['initiated', 'ringing', 'answered', 'completed'];

/** A raw setting and where it came from, for error messages. */
interface Raw {
  value: string;
  source: string;
}

function fail(raw: Raw, problem: string): never {
  throw new ConfigError(`${raw.source}: ${JSON.stringify(raw.value)} ${problem}`, raw.source);
}

function port(raw: Raw): number {
  if (!/^\d{1,5}$/.test(raw.value) || Number(raw.value) > 65535) fail(raw, 'is not a port number (0-65535)');
  return Number(raw.value);
}

/** A port, or null for `off` (also `no`, `false`, `disabled`). */
function portOrOff(raw: Raw): number | null {
  if (/^(off|no|false|disabled)$/i.test(raw.value.trim())) return null;
  if (!/^\d{1,5}$/.test(raw.value) || Number(raw.value) > 65535) fail(raw, 'is not a port number (0-65535) or off');
  return Number(raw.value);
}

function host(raw: Raw): string {
  if (isIP(raw.value) === 0) fail(raw, 'is not an IP address (e.g. 0.0.0.0, 127.0.0.1 or ::)');
  return raw.value;
}

const RECOGNIZERS = ['pocketsphinx', 'deepgram', 'openai', 'websocket'];

function recognizerName(raw: Raw): string {
  const name = raw.value.trim().toLowerCase();
  if (!RECOGNIZERS.includes(name)) fail(raw, `must be one of ${RECOGNIZERS.join(', ')}`);
  return name;
}

function wsUrl(raw: Raw): string {
  let parsed: URL;
  try {
    parsed = new URL(raw.value);
  } catch {
    fail(raw, 'is not a valid URL');
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') fail(raw, 'must be a ws:// or wss:// URL');
  return raw.value;
}

function url(raw: Raw): string {
  let parsed: URL;
  try {
    parsed = new URL(raw.value);
  } catch {
    fail(raw, 'is not a valid URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') fail(raw, 'must be an http:// or https:// URL');
  // Kept as written: webhook signatures are computed over the URL exactly as configured.
  return raw.value;
}

function method(raw: Raw): HttpMethod {
  const m = raw.value.toUpperCase();
  if (m !== 'GET' && m !== 'POST') fail(raw, 'is not an HTTP method for webhooks (GET or POST)');
  return m;
}

function seconds(raw: Raw, min: number, max: number): number {
  const n = /^\d+(\.\d+)?$/.test(raw.value) ? Number(raw.value) : NaN;
  if (!(n >= min && n <= max)) fail(raw, `is not a number of seconds between ${min} and ${max}`);
  return Math.round(n * 1000);
}

function portRange(raw: Raw): [number, number] {
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(raw.value);
  const lo = Number(m?.[1]);
  const hi = Number(m?.[2]);
  if (!m || lo < 1 || hi > 65535) fail(raw, 'is not a port range like 20000-29999');
  if (hi - lo < 1) fail(raw, 'must span at least 2 ports (one RTP/RTCP pair)');
  return [lo, hi];
}

function statusEvents(raw: Raw): StatusCallbackEventName[] {
  const names = raw.value.split(/[\s,]+/).filter(Boolean);
  if (names.length === 0) fail(raw, 'names no events');
  for (const n of names) {
    if (!STATUS_EVENTS.includes(n as StatusCallbackEventName)) fail(raw, `contains unknown event "${n}" (use ${STATUS_EVENTS.join(', ')})`);
  }
  return STATUS_EVENTS.filter((e) => names.includes(e));
}

function bool(raw: Raw): boolean {
  const v = raw.value.trim().toLowerCase();
  if (v === 'true' || v === '1' || v === 'yes') return true;
  if (v === 'false' || v === '0' || v === 'no') return false;
  fail(raw, 'is not true or false');
}

function cidrs(raw: Raw | null): string[] {
  const list = raw ? raw.value.split(/[\s,]+/).filter(Boolean) : [];
  for (const t of list) {
    try {
      parseCidr(t);
    } catch (err) {
      if (err instanceof CidrError && raw) fail(raw, `is not a list of addresses or CIDR blocks (${err.message})`);
      throw err;
    }
  }
  return list;
}

function appUrls(withDefault: (flag: string) => Raw, get: (flag: string) => Raw | null): AppUrlConfig {
  const caRaw = get('webhook-ca');
  let caPem: string | null = null;
  if (caRaw) {
    try {
      caPem = readFileSync(resolve(caRaw.value), 'utf8');
    } catch (err) {
      fail(caRaw, `cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
    if (!caPem.includes('-----BEGIN CERTIFICATE-----')) fail(caRaw, 'holds no PEM certificate');
  }
  const sizeRaw = withDefault('media-max-size');
  const mb = /^\d+(\.\d+)?$/.test(sizeRaw.value) ? Number(sizeRaw.value) : NaN;
  if (!(mb > 0 && mb <= 4096)) fail(sizeRaw, 'is not a size in MB between 0 and 4096');
  return {
    blockPrivate: bool(withDefault('block-private-webhooks')),
    allowedNetworks: cidrs(get('webhook-allowed-networks')),
    caPem,
    mediaMaxBytes: Math.round(mb * 1024 * 1024),
  };
}

/** `n` or `n/m`, both positive whole numbers; `m` is null when absent. */
function pair(raw: Raw, what: string): [number, number | null] {
  const m = /^(\d+)(?:\/(\d+))?$/.exec(raw.value.trim());
  const a = Number(m?.[1]);
  const b = m?.[2] === undefined ? null : Number(m[2]);
  if (!m || a < 1 || b === 0) fail(raw, `is not ${what}`);
  return [a, b];
}

function sipGuard(withDefault: (flag: string) => Raw, get: (flag: string) => Raw | null): SipGuardConfig {
  const rateRaw = withDefault('sip-rate-limit');
  const [requestsPerSecond, burst] = pair(rateRaw, 'a rate like 50 or 50/100 (requests per second / burst)');
  if (burst !== null && burst < requestsPerSecond) fail(rateRaw, 'has a burst smaller than the rate');
  const [authFailuresBeforeBan, windowS] = pair(withDefault('sip-auth-failures-before-ban'), 'a count like 10 or 10/60 (failures / seconds)');
  const maxConn = withDefault('sip-max-connections-per-source');
  if (!/^\d+$/.test(maxConn.value) || Number(maxConn.value) < 1) fail(maxConn, 'is not a positive whole number');
  const trustedRaw = get('sip-trusted-sources');
  const trustedSources = trustedRaw ? trustedRaw.value.split(/[\s,]+/).filter(Boolean) : [];
  for (const t of trustedSources) {
    try {
      parseCidr(t);
    } catch (err) {
      if (err instanceof CidrError && trustedRaw) fail(trustedRaw, `is not a list of addresses or CIDR blocks (${err.message})`);
      throw err;
    }
  }
  return {
    requestsPerSecond,
    burst: burst ?? requestsPerSecond * 2,
    banMs: seconds(withDefault('sip-ban-seconds'), 1, 2_592_000),
    authFailuresBeforeBan,
    authFailureWindowMs: (windowS ?? 60) * 1000,
    maxConnectionsPerSource: Number(maxConn.value),
    trustedSources,
  };
}

/** Reads and validates the configuration; throws ConfigError naming the offending flag/variable. */
/** The process environment, for entry points that hand it to commands (this module is its only reader). */
export function processEnvironment(): NodeJS.ProcessEnv {
  return process.env;
}

export function loadConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): PatchbayConfig {
  let flags: Record<string, string | undefined>;
  let production = false;
  try {
    const parsed = parseArgs({
      args: argv,
      options: {
        ...Object.fromEntries(SETTINGS.filter((s) => !s.envOnly).map((s) => [s.flag, { type: 'string' as const }])),
        production: { type: 'boolean' as const },
      },
      strict: true,
      allowPositionals: false,
    });
    const { production: productionFlag, ...values } = parsed.values as Record<string, string | boolean | undefined>;
    flags = values as Record<string, string | undefined>;
    production = productionFlag === true;
  } catch (err) {
    const msg = (err as Error).message;
    const secret = argv.find((a) => a === '--auth-token' || a.startsWith('--auth-token='));
    if (secret) throw new ConfigError(`--auth-token is not accepted on the command line (visible in ps); set ${envName('auth-token')}`, '--auth-token');
    throw new ConfigError(`${msg}. Run 'patchbay start --help' for the list of settings.`);
  }

  if (production) {
    if (flags.mode !== undefined && flags.mode !== 'production') throw new ConfigError(`--production contradicts --mode ${flags.mode}`, '--mode');
    flags.mode = 'production';
  }

  const get = (flag: string): Raw | null => {
    const fromFlag = flags[flag];
    if (fromFlag !== undefined) return { value: fromFlag, source: `--${flag}` };
    const fromEnv = env[envName(flag)];
    // An empty variable counts as unset (`PATCHBAY_VOICE_URL= patchbay start` clears it).
    if (fromEnv !== undefined && fromEnv !== '') return { value: fromEnv, source: envName(flag) };
    return null;
  };
  const withDefault = (flag: string): Raw => {
    const s = SETTINGS.find((x) => x.flag === flag);
    return get(flag) ?? { value: s?.default ?? '', source: `default of --${flag}` };
  };
  const optional = <T>(flag: string, conv: (r: Raw) => T): T | null => {
    const raw = get(flag);
    return raw ? conv(raw) : null;
  };

  const [rtpPortMin, rtpPortMax] = portRange(withDefault('rtp-ports'));
  const accountSid = optional('account-sid', (r) => {
    if (!/^AC[0-9a-f]{32}$/.test(r.value)) fail(r, 'is not an account SID (AC followed by 32 lower-case hex digits)');
    return r.value;
  });
  const positiveInt = (r: Raw): number => {
    if (!/^\d+$/.test(r.value) || Number(r.value) < 1) fail(r, 'is not a positive whole number');
    return Number(r.value);
  };
  const maxCalls = positiveInt(withDefault('max-calls'));
  const wholeNumber = (r: Raw): number => {
    if (!/^\d+$/.test(r.value)) fail(r, 'is not a whole number (0 or more)');
    return Number(r.value);
  };
  const logLevel = ((r: Raw) => {
    const l = r.value.toLowerCase();
    if (!LOG_LEVELS.includes(l)) fail(r, `is not a log level (${LOG_LEVELS.join(', ')})`);
    return l;
  })(withDefault('log-level'));

  const digestAlgorithms = (r: Raw): ('SHA-256' | 'MD5')[] => {
    const names = r.value.split(',').map((v) => v.trim().toUpperCase()).filter(Boolean);
    const out: ('SHA-256' | 'MD5')[] = [];
    for (const n of names) {
      if (n !== 'SHA-256' && n !== 'MD5') throw new ConfigError(`${r.source}: unknown digest algorithm "${n}" (use SHA-256 and/or MD5)`, '--sip-digest-algorithms');
      if (!out.includes(n)) out.push(n);
    }
    if (out.length === 0) throw new ConfigError(`${r.source}: name at least one digest algorithm (SHA-256, MD5)`, '--sip-digest-algorithms');
    return out;
  };

  const config: PatchbayConfig = {
    sipHost: host(withDefault('sip-host')),
    sipPort: port(withDefault('sip-port')),
    httpHost: host(withDefault('http-host')),
    httpPort: port(withDefault('http-port')),
    rtpPortMin,
    rtpPortMax,
    publicIp: optional('public-ip', host),
    dataDir: resolve(withDefault('data-dir').value),
    voiceUrl: optional('voice-url', url),
    voiceMethod: method(withDefault('voice-method')),
    statusCallback: optional('status-callback', url),
    statusCallbackMethod: method(withDefault('status-callback-method')),
    statusCallbackEvents: statusEvents(withDefault('status-callback-event')),
    fallbackUrl: optional('fallback-url', url),
    fallbackMethod: method(withDefault('fallback-method')),
    webhookTimeoutMs: seconds(withDefault('webhook-timeout'), 0.001, 600),
    accountSid,
    authToken: optional('auth-token', (r) => r.value),
    drainGraceMs: seconds(withDefault('drain-grace'), 0, 86400),
    logLevel,
    maxCalls,
    accountCallsPerSecond: positiveInt(withDefault('account-cps')),
    accountMaxCalls: positiveInt(withDefault('account-max-calls')),
    accountInboundCallsPerSecond: wholeNumber(withDefault('account-inbound-cps')),
    accountInboundMaxCalls: wholeNumber(withDefault('account-inbound-max-calls')),
    sipRealm: withDefault('sip-realm').value,
    sipDigestAlgorithms: digestAlgorithms(withDefault('sip-digest-algorithms')),
    registerMinExpires: positiveInt(withDefault('register-min-expires')),
    registerMaxExpires: positiveInt(withDefault('register-max-expires')),
    publicUrl: optional('public-url', url),
    mode: ((r: Raw) => {
      const m = r.value.toLowerCase();
      if (m !== 'development' && m !== 'production') fail(r, 'is not a mode (development or production)');
      return m;
    })(withDefault('mode')),
    sipGuard: sipGuard(withDefault, get),
    sipTransports: {
      tlsPort: portOrOff(withDefault('tls-port')),
      wsPort: portOrOff(withDefault('ws-port')),
      wssPort: portOrOff(withDefault('wss-port')),
      certFile: optional('tls-cert', (r) => resolve(r.value)),
      keyFile: optional('tls-key', (r) => resolve(r.value)),
    },
    appUrls: appUrls(withDefault, get),
    metricsAuth: bool(withDefault('metrics-auth')),
    speech: {
      defaultRecognizer: recognizerName(withDefault('speech-recognizer')),
      deepgramApiKey: optional('deepgram-api-key', (r) => r.value),
      openaiApiKey: optional('openai-api-key', (r) => r.value),
      elevenlabsApiKey: optional('elevenlabs-api-key', (r) => r.value),
      recognizerUrl: optional('recognizer-url', wsUrl),
    },
  };

  if (config.registerMinExpires > config.registerMaxExpires) {
    throw new ConfigError(`--register-min-expires (${config.registerMinExpires}) is longer than --register-max-expires (${config.registerMaxExpires})`, '--register-min-expires');
  }
  // SIP listens on TCP too, so SIP and HTTP cannot share a fixed port.
  if (config.sipPort !== 0 && config.sipPort === config.httpPort) {
    throw new ConfigError(`SIP and HTTP are both set to port ${config.sipPort}; they need different ports`, '--http-port');
  }
  const t = config.sipTransports;
  if ((t.certFile === null) !== (t.keyFile === null)) {
    const missing = t.certFile === null ? 'tls-cert' : 'tls-key';
    throw new ConfigError(`${get(missing === 'tls-cert' ? 'tls-key' : 'tls-cert')?.source}: a TLS certificate needs both --tls-cert and --tls-key`, `--${missing}`);
  }
  // TLS, WS and WSS listen on TCP ports of their own: none may share a fixed port with another listener
  // (SIP's own port is UDP and TCP; HTTP was checked against it above).
  const listeners: [string, number | null][] = [['sip-port', config.sipPort], ['http-port', config.httpPort], ['tls-port', t.tlsPort], ['ws-port', t.wsPort], ['wss-port', t.wssPort]];
  for (const [i, [a, pa]] of listeners.entries()) {
    for (const [b, pb] of listeners.slice(Math.max(i + 1, 2))) {
      if (pa !== null && pa !== 0 && pa === pb) throw new ConfigError(`--${a} and --${b} are both set to port ${pa}; they need different ports`, `--${b}`);
    }
  }
  const needs: Record<string, [string | null, string]> = {
    deepgram: [config.speech.deepgramApiKey, 'deepgram-api-key'],
    openai: [config.speech.openaiApiKey, 'openai-api-key'],
    websocket: [config.speech.recognizerUrl, 'recognizer-url'],
  };
  const need = needs[config.speech.defaultRecognizer];
  if (need && !need[0]) {
    throw new ConfigError(`${get('speech-recognizer')?.source ?? '--speech-recognizer'}: "${config.speech.defaultRecognizer}" needs ${envName(need[1])} to be set`, '--speech-recognizer');
  }
  if (config.publicIp && (config.publicIp === '0.0.0.0' || config.publicIp === '::')) {
    throw new ConfigError(`${get('public-ip')?.source}: "${config.publicIp}" is a wildcard, not an address peers can reach`, '--public-ip');
  }
  return config;
}
