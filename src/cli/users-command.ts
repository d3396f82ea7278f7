/**
 * `patchbay users list|show|add|update|remove|registrations`: the account's SIP users (the
 * accounts softphones register with) through the native /v1/users API, and the devices registered
 * now (/v1/registrations). A user is named by username or US… SID. Tables for people, `--json`
 * for scripts.
 */
import { parseArgs } from 'node:util';
import { ApiClient, CliUsageError, CONNECTION_HELP, CONNECTION_OPTIONS, onePositional, printResult, resolveConnection, runApiCommand, type ApiCommandIo } from './api-client.js';
import { LIST_OPTIONS, listPath, resolveSid, type ResourceRef } from './resource-cli.js';
import { formatFields, formatTable } from './table.js';

interface UserJson {
  sid: string;
  username: string;
  friendlyName: string;
  realm: string;
  voiceUrl: string | null;
  voiceMethod: string;
  voiceApplicationSid: string | null;
  /** Absent from servers older than the SRTP policy. */
  srtp?: string;
}

interface RegistrationJson {
  userSid: string;
  username: string;
  contact: string;
  source: string;
  userAgent: string | null;
  registeredAt: string;
  expiresAt: string;
  expiresIn: number;
}

const REF: ResourceRef = { path: '/v1/users', listKey: 'users', sidPrefix: 'US', keyField: 'username', noun: 'user' };

const USAGE = [
  'Usage:',
  '  patchbay users list [--limit N] [--page-token T]',
  '  patchbay users show <username | US…>',
  '  patchbay users add <username> --password <secret> [user flags]',
  '  patchbay users update <username | US…> [--username <new> --password <secret>] [user flags]',
  '  patchbay users remove <username | US…>',
  '  patchbay users registrations [<username | US…>]',
].join('\n');

const HELP = `${USAGE}

Manages SIP users (/v1/users): softphones and desk phones register with Patchbay as
<username>, place calls run by their application, and are reachable as client:<username>.
The password (8-128 characters) is stored only as digest hashes; command lines are visible
in ps, so set it from a script you trust. Renaming a user needs its password again.

User flags:
  --password <secret>        the SIP password (required by add)
  --voice-url <url>          the application URL the user's calls fetch
  --voice-method GET|POST    default POST
  --application <AP…|none>   run the user's calls with this application instead ('none' clears)
  --friendly-name <name>     default: the username
  --srtp optional|required|off
                             SRTP (SDES) on the user's calls: optional encrypts when the phone
                             offers or accepts it (default), required refuses plain RTP (488), off never

${CONNECTION_HELP}
`;

const USER_OPTIONS = {
  password: { type: 'string' },
  'voice-url': { type: 'string' },
  'voice-method': { type: 'string' },
  application: { type: 'string' },
  'friendly-name': { type: 'string' },
  srtp: { type: 'string' },
} as const;

/** The API body the flags describe (only what was given). */
export function userBody(values: { [K in keyof typeof USER_OPTIONS]?: string }): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  if (values.password !== undefined) body.password = values.password;
  if (values['voice-url'] !== undefined) body.voiceUrl = values['voice-url'];
  if (values['voice-method'] !== undefined) body.voiceMethod = values['voice-method'].toUpperCase();
  if (values.application !== undefined) body.voiceApplicationSid = values.application === 'none' ? null : values.application;
  if (values['friendly-name'] !== undefined) body.friendlyName = values['friendly-name'];
  if (values.srtp !== undefined) body.srtp = values.srtp.toLowerCase();
  return body;
}

function userFields(u: UserJson): string {
  return formatFields([
    ['sid', u.sid],
    ['username', u.username],
    ['friendly name', u.friendlyName],
    ['realm', u.realm],
    ['voice url', u.voiceUrl],
    ['voice method', u.voiceMethod],
    ['application', u.voiceApplicationSid],
    ['srtp', u.srtp ?? null],
  ]);
}

function registrationsTable(regs: readonly RegistrationJson[]): string {
  if (regs.length === 0) return 'No registrations.\n';
  return formatTable(['username', 'contact', 'source', 'user agent', 'expires in'], regs.map((r) => [r.username, r.contact, r.source, r.userAgent, `${r.expiresIn} s`]));
}

async function run(args: string[], io: ApiCommandIo): Promise<number> {
  return runApiCommand(io, USAGE, async () => {
    const [sub, ...rest] = args;
    const env = io.env ?? {};
    const print = (json: boolean, value: unknown, human: () => string): void => printResult(io, json, value, human);
    const userPath = async (client: ApiClient, target: string): Promise<string> => `${REF.path}/${encodeURIComponent(await resolveSid(client, REF, target))}`;
    switch (sub) {
      case 'list': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, strict: true, options: { ...CONNECTION_OPTIONS, ...LIST_OPTIONS } });
        if (positionals.length > 0) throw new CliUsageError(`unexpected argument "${positionals[0]}"`);
        const path = listPath(REF.path, values);
        const page = (await new ApiClient(resolveConnection(values, env)).get(path)) as { users: UserJson[]; nextPageToken: string | null };
        print(values.json === true, page, () =>
          page.users.length === 0
            ? 'No users.\n'
            : formatTable(
              ['sid', 'username', 'friendly name', 'voice url', 'method'],
              page.users.map((u) => [u.sid, u.username, u.friendlyName, u.voiceApplicationSid ? `application ${u.voiceApplicationSid}` : u.voiceUrl, u.voiceMethod]),
            ));
        if (page.nextPageToken && values.json !== true) io.stderr(`More users: patchbay users list --page-token ${page.nextPageToken}\n`);
        return;
      }
      case 'show': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, strict: true, options: CONNECTION_OPTIONS });
        const target = onePositional(positionals, 'username or US… SID');
        const client = new ApiClient(resolveConnection(values, env));
        const user = (await client.get(await userPath(client, target))) as UserJson;
        print(values.json === true, user, () => userFields(user));
        return;
      }
      case 'add': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, strict: true, options: { ...CONNECTION_OPTIONS, ...USER_OPTIONS } });
        const username = onePositional(positionals, 'username');
        if (values.password === undefined) throw new CliUsageError('--password is required');
        const created = (await new ApiClient(resolveConnection(values, env)).post(REF.path, { username, ...userBody(values) })) as UserJson;
        print(values.json === true, created, () => userFields(created));
        return;
      }
      case 'update': {
        const { values, positionals } = parseArgs({
          args: rest, allowPositionals: true, strict: true, options: { ...CONNECTION_OPTIONS, ...USER_OPTIONS, username: { type: 'string' } },
        });
        const target = onePositional(positionals, 'username or US… SID');
        const body = userBody(values);
        if (values.username !== undefined) body.username = values.username;
        if (Object.keys(body).length === 0) throw new CliUsageError('nothing to update: give at least one flag');
        const client = new ApiClient(resolveConnection(values, env));
        const updated = (await client.patch(await userPath(client, target), body)) as UserJson;
        print(values.json === true, updated, () => userFields(updated));
        return;
      }
      case 'remove': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, strict: true, options: CONNECTION_OPTIONS });
        const target = onePositional(positionals, 'username or US… SID');
        const client = new ApiClient(resolveConnection(values, env));
        const sid = await resolveSid(client, REF, target);
        await client.delete(`${REF.path}/${encodeURIComponent(sid)}`);
        print(values.json === true, { sid, deleted: true }, () => `Removed ${target === sid ? sid : `${target} (${sid})`}.\n`);
        return;
      }
      case 'registrations': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, strict: true, options: CONNECTION_OPTIONS });
        if (positionals.length > 1) throw new CliUsageError(`unexpected argument "${positionals[1]}"`);
        const client = new ApiClient(resolveConnection(values, env));
        const path = positionals[0] === undefined ? '/v1/registrations' : `${await userPath(client, positionals[0])}/registrations`;
        const page = (await client.get(path)) as { registrations: RegistrationJson[] };
        print(values.json === true, page, () => registrationsTable(page.registrations));
        return;
      }
      case undefined:
        throw new CliUsageError('missing subcommand (list, show, add, update, remove or registrations)');
      default:
        throw new CliUsageError(`unknown subcommand "${sub}"`);
    }
  });
}

export const usersCommand = {
  summary: 'list, show, add, update and remove SIP users; see their registrations',
  usage: 'patchbay users list|show|add|update|remove|registrations',
  help: (): string => HELP,
  run,
};
