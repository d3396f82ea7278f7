/**
 * `patchbay carriers list|show|add|update|remove`: the account's carriers (SIP trunks) through the
 * native /v1/carriers API. Flags mirror the API's fields; a carrier is named by its TK… SID or its
 * friendly name. Tables for people, `--json` for scripts.
 */
import { parseArgs } from 'node:util';
import { ApiClient, CliUsageError, CONNECTION_HELP, CONNECTION_OPTIONS, onePositional, printResult, resolveConnection, runApiCommand, type ApiCommandIo } from './api-client.js';
import { LIST_OPTIONS, listPath, resolveSid, type ResourceRef } from './resource-cli.js';
import { formatFields, formatTable } from './table.js';

interface CarrierJson {
  sid: string;
  friendlyName: string;
  host: string;
  port: number;
  transport: string;
  username: string | null;
  hasPassword: boolean;
  register: boolean;
  registerExpires: number;
  prefixes: string[];
  priority: number;
  inboundAddresses: string[];
  inboundUsername?: string | null;
  fromDomain: string | null;
  techPrefix: string;
  enabled: boolean;
  /** Absent from servers older than the SRTP policy. */
  srtp?: string;
}

interface CarrierPageJson {
  carriers: CarrierJson[];
  nextPageToken: string | null;
}

const REF: ResourceRef = { path: '/v1/carriers', listKey: 'carriers', sidPrefix: 'TK', keyField: 'friendlyName', noun: 'carrier' };

const USAGE = [
  'Usage:',
  '  patchbay carriers list [--limit N] [--page-token T]',
  '  patchbay carriers show <TK… | name>',
  '  patchbay carriers add --host <host> [carrier flags]',
  '  patchbay carriers update <TK… | name> [carrier flags]',
  '  patchbay carriers remove <TK… | name>',
].join('\n');

const HELP = `${USAGE}

Manages the carriers (SIP trunks) calls to phone numbers go out through (/v1/carriers).

Carrier flags:
  --friendly-name <name>     the carrier's name (default: the host)
  --host <host>              host name or IP address of the carrier's SIP server
  --port <1-65535>           default 5060
  --transport udp|tcp        default udp
  --username <user>          digest credentials for its challenges (give both; '' clears both)
  --password <secret>
  --register / --no-register keep a REGISTER binding with the carrier (needs the credentials)
  --register-expires <s>     requested registration lifetime, 60-86400 (default 3600)
  --prefix <+1>              a number prefix it takes (repeatable; none = every number)
  --clear-prefixes           update: every number again
  --priority <0-1000>        lower is tried first (default 10)
  --inbound-address <a>      an IP address or CIDR block that may send calls in (repeatable)
  --clear-inbound-addresses  update: no inbound addresses
  --inbound-username <user>  digest username its INVITEs may prove themselves with instead of an
  --inbound-password <pw>    inbound address (give both; a new password alone keeps the username;
                             --inbound-username '' clears)
  --from-domain <host>       host part of our From through this carrier
  --tech-prefix <digits>     prepended to the dialled number
  --enable / --disable       whether calls use it (default enabled)
  --srtp optional|required|off
                             SRTP (SDES) on calls with it: optional encrypts when the other side
                             offers or accepts it (default), required refuses plain RTP, off never

${CONNECTION_HELP}
`;

const CARRIER_OPTIONS = {
  'friendly-name': { type: 'string' },
  host: { type: 'string' },
  port: { type: 'string' },
  transport: { type: 'string' },
  username: { type: 'string' },
  password: { type: 'string' },
  register: { type: 'boolean' },
  'no-register': { type: 'boolean' },
  'register-expires': { type: 'string' },
  prefix: { type: 'string', multiple: true },
  'clear-prefixes': { type: 'boolean' },
  priority: { type: 'string' },
  'inbound-address': { type: 'string', multiple: true },
  'clear-inbound-addresses': { type: 'boolean' },
  'inbound-username': { type: 'string' },
  'inbound-password': { type: 'string' },
  'from-domain': { type: 'string' },
  'tech-prefix': { type: 'string' },
  enable: { type: 'boolean' },
  disable: { type: 'boolean' },
  srtp: { type: 'string' },
} as const;

type CarrierFlags = {
  [K in keyof typeof CARRIER_OPTIONS]?: (typeof CARRIER_OPTIONS)[K] extends { multiple: true } ? string[] : (typeof CARRIER_OPTIONS)[K] extends { type: 'boolean' } ? boolean : string;
};

function wholeNumber(flag: string, value: string): number {
  if (!/^[0-9]{1,6}$/.test(value)) throw new CliUsageError(`--${flag} must be a whole number, got "${value}"`);
  return Number(value);
}

function exclusive(values: CarrierFlags, a: keyof CarrierFlags, b: keyof CarrierFlags): void {
  if (values[a] !== undefined && values[b] !== undefined) throw new CliUsageError(`--${a} and --${b} cannot be used together`);
}

/** The API body the flags describe (only what was given; ranges are the API's to check). */
export function carrierBody(values: CarrierFlags): Record<string, unknown> {
  exclusive(values, 'register', 'no-register');
  exclusive(values, 'enable', 'disable');
  exclusive(values, 'prefix', 'clear-prefixes');
  exclusive(values, 'inbound-address', 'clear-inbound-addresses');
  const body: Record<string, unknown> = {};
  const strings = [['friendly-name', 'friendlyName'], ['host', 'host'], ['transport', 'transport'], ['username', 'username'], ['password', 'password'], ['from-domain', 'fromDomain'], ['tech-prefix', 'techPrefix'], ['srtp', 'srtp']] as const;
  for (const [flag, field] of strings) if (values[flag] !== undefined) body[field] = values[flag];
  if (typeof body.transport === 'string') body.transport = body.transport.toLowerCase();
  if (typeof body.srtp === 'string') body.srtp = body.srtp.toLowerCase();
  const numbers = [['port', 'port'], ['register-expires', 'registerExpires'], ['priority', 'priority']] as const;
  for (const [flag, field] of numbers) if (values[flag] !== undefined) body[field] = wholeNumber(flag, values[flag]);
  if (values.register || values['no-register']) body.register = values.register === true;
  if (values.enable || values.disable) body.enabled = values.enable === true;
  if (values.prefix) body.prefixes = values.prefix;
  if (values['clear-prefixes']) body.prefixes = [];
  if (values['inbound-address']) body.inboundAddresses = values['inbound-address'];
  if (values['clear-inbound-addresses']) body.inboundAddresses = [];
  if (values['inbound-username'] !== undefined) body.inboundUsername = values['inbound-username'] === '' ? null : values['inbound-username'];
  if (values['inbound-password'] !== undefined) body.inboundPassword = values['inbound-password'];
  return body;
}

function carrierFields(c: CarrierJson): string {
  return formatFields([
    ['sid', c.sid],
    ['name', c.friendlyName],
    ['host', c.host],
    ['port', c.port],
    ['transport', c.transport],
    ['username', c.username],
    ['password', c.hasPassword ? 'set' : null],
    ['register', c.register ? `yes, every ${c.registerExpires} s` : 'no'],
    ['prefixes', c.prefixes.length === 0 ? 'every number' : c.prefixes.join(', ')],
    ['priority', c.priority],
    ['inbound addresses', c.inboundAddresses.join(', ')],
    ['inbound username', c.inboundUsername ?? null],
    ['from domain', c.fromDomain],
    ['tech prefix', c.techPrefix],
    ['enabled', c.enabled ? 'yes' : 'no'],
    ['srtp', c.srtp ?? null],
  ]);
}

async function run(args: string[], io: ApiCommandIo): Promise<number> {
  return runApiCommand(io, USAGE, async () => {
    const [sub, ...rest] = args;
    const env = io.env ?? {};
    const print = (json: boolean, value: unknown, human: () => string): void => printResult(io, json, value, human);
    switch (sub) {
      case 'list': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, strict: true, options: { ...CONNECTION_OPTIONS, ...LIST_OPTIONS } });
        if (positionals.length > 0) throw new CliUsageError(`unexpected argument "${positionals[0]}"`);
        const path = listPath(REF.path, values);
        const page = (await new ApiClient(resolveConnection(values, env)).get(path)) as CarrierPageJson;
        print(values.json === true, page, () =>
          page.carriers.length === 0
            ? 'No carriers.\n'
            : formatTable(
              ['sid', 'name', 'address', 'priority', 'prefixes', 'register', 'enabled'],
              page.carriers.map((c) => [
                c.sid, c.friendlyName, `${c.transport}:${c.host}:${c.port}`, c.priority,
                c.prefixes.length === 0 ? 'all' : c.prefixes.join(','), c.register ? 'yes' : 'no', c.enabled ? 'yes' : 'no',
              ]),
            ));
        if (page.nextPageToken && values.json !== true) io.stderr(`More carriers: patchbay carriers list --page-token ${page.nextPageToken}\n`);
        return;
      }
      case 'show': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, strict: true, options: CONNECTION_OPTIONS });
        const target = onePositional(positionals, 'carrier SID or name');
        const client = new ApiClient(resolveConnection(values, env));
        const carrier = (await client.get(`${REF.path}/${encodeURIComponent(await resolveSid(client, REF, target))}`)) as CarrierJson;
        print(values.json === true, carrier, () => carrierFields(carrier));
        return;
      }
      case 'add': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, strict: true, options: { ...CONNECTION_OPTIONS, ...CARRIER_OPTIONS } });
        if (positionals.length > 0) throw new CliUsageError(`unexpected argument "${positionals[0]}" (the host goes in --host)`);
        if (values.host === undefined) throw new CliUsageError('--host is required');
        if (values['clear-prefixes'] || values['clear-inbound-addresses']) throw new CliUsageError('--clear-… flags are for update');
        const body = carrierBody(values);
        const created = (await new ApiClient(resolveConnection(values, env)).post(REF.path, body)) as CarrierJson;
        print(values.json === true, created, () => carrierFields(created));
        return;
      }
      case 'update': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, strict: true, options: { ...CONNECTION_OPTIONS, ...CARRIER_OPTIONS } });
        const target = onePositional(positionals, 'carrier SID or name');
        const body = carrierBody(values);
        if (Object.keys(body).length === 0) throw new CliUsageError('nothing to update: give at least one carrier flag');
        const client = new ApiClient(resolveConnection(values, env));
        const updated = (await client.patch(`${REF.path}/${encodeURIComponent(await resolveSid(client, REF, target))}`, body)) as CarrierJson;
        print(values.json === true, updated, () => carrierFields(updated));
        return;
      }
      case 'remove': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, strict: true, options: CONNECTION_OPTIONS });
        const target = onePositional(positionals, 'carrier SID or name');
        const client = new ApiClient(resolveConnection(values, env));
        const sid = await resolveSid(client, REF, target);
        await client.delete(`${REF.path}/${encodeURIComponent(sid)}`);
        print(values.json === true, { sid, deleted: true }, () => `Removed ${target === sid ? sid : `${target} (${sid})`}.\n`);
        return;
      }
      case undefined:
        throw new CliUsageError('missing subcommand (list, show, add, update or remove)');
      default:
        throw new CliUsageError(`unknown subcommand "${sub}"`);
    }
  });
}

export const carriersCommand = {
  summary: 'list, show, add, update and remove carriers (SIP trunks)',
  usage: 'patchbay carriers list|show|add|update|remove',
  help: (): string => HELP,
  run,
};
