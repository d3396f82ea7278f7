/**
 * `patchbay numbers list|add|remove`: the account's IncomingPhoneNumbers (the identities inbound
 * calls are routed by) through the native /v1/numbers API. Tables for people, `--json` for scripts.
 */
import { parseArgs } from 'node:util';
import { ApiClient, ApiClientError, CliUsageError, CONNECTION_HELP, CONNECTION_OPTIONS, onePositional, printResult, resolveConnection, runApiCommand, type ApiCommandIo } from './api-client.js';
import { LIST_OPTIONS, listPath } from './resource-cli.js';
import { formatFields, formatTable } from './table.js';

interface NumberJson {
  sid: string;
  phoneNumber: string;
  friendlyName: string;
  voiceUrl: string | null;
  voiceMethod: string | null;
  voiceApplicationSid: string | null;
}

interface NumberPageJson {
  numbers: NumberJson[];
  nextPageToken: string | null;
}

const USAGE = [
  'Usage:',
  '  patchbay numbers list [--limit N] [--page-token T]',
  '  patchbay numbers add <number> --voice-url <url> [--voice-method GET|POST] [--friendly-name <name>]',
  '  patchbay numbers remove <number | PN…>',
].join('\n');

const HELP = `${USAGE}

Manages the numbers inbound calls are routed by (/v1/numbers). A number is E.164 (+14155550100)
or a SIP user part (1000, support); a call to it fetches its voice URL.

${CONNECTION_HELP}
`;

const PN_SID = /^PN[0-9a-fA-F]{32}$/;

function numberFields(n: NumberJson): string {
  return formatFields([
    ['sid', n.sid],
    ['number', n.phoneNumber],
    ['friendly name', n.friendlyName],
    ['voice url', n.voiceUrl],
    ['voice method', n.voiceMethod],
    ['application', n.voiceApplicationSid],
  ]);
}


async function run(args: string[], io: ApiCommandIo): Promise<number> {
  return runApiCommand(io, USAGE, async () => {
    const [sub, ...rest] = args;
    const env = io.env ?? {};
    const print = (json: boolean, value: unknown, human: () => string): void => printResult(io, json, value, human);
    switch (sub) {
      case 'list': {
        const { values, positionals } = parseArgs({
          args: rest, allowPositionals: true, strict: true,
          options: { ...CONNECTION_OPTIONS, ...LIST_OPTIONS },
        });
        if (positionals.length > 0) throw new CliUsageError(`unexpected argument "${positionals[0]}"`);
        const path = listPath('/v1/numbers', values);
        const client = new ApiClient(resolveConnection(values, env));
        const page = (await client.get(path)) as NumberPageJson;
        print(values.json === true, page, () =>
          page.numbers.length === 0
            ? 'No numbers.\n'
            : formatTable(
              ['sid', 'number', 'friendly name', 'voice url', 'method'],
              page.numbers.map((n) => [n.sid, n.phoneNumber, n.friendlyName, n.voiceApplicationSid ? `application ${n.voiceApplicationSid}` : n.voiceUrl, n.voiceMethod]),
            ));
        if (page.nextPageToken && values.json !== true) io.stderr(`More numbers: patchbay numbers list --page-token ${page.nextPageToken}\n`);
        return;
      }
      case 'add': {
        const { values, positionals } = parseArgs({
          args: rest, allowPositionals: true, strict: true,
          options: { ...CONNECTION_OPTIONS, 'voice-url': { type: 'string' }, 'voice-method': { type: 'string' }, 'friendly-name': { type: 'string' } },
        });
        const phoneNumber = onePositional(positionals, 'number');
        if (values['voice-url'] === undefined) throw new CliUsageError('--voice-url is required');
        const body: Record<string, unknown> = { phoneNumber, voiceUrl: values['voice-url'] };
        if (values['voice-method'] !== undefined) body.voiceMethod = values['voice-method'].toUpperCase();
        if (values['friendly-name'] !== undefined) body.friendlyName = values['friendly-name'];
        const client = new ApiClient(resolveConnection(values, env));
        const created = (await client.post('/v1/numbers', body)) as NumberJson;
        print(values.json === true, created, () => numberFields(created));
        return;
      }
      case 'remove': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, strict: true, options: CONNECTION_OPTIONS });
        const target = onePositional(positionals, 'number or PN… SID');
        const client = new ApiClient(resolveConnection(values, env));
        let sid = target;
        let phoneNumber: string | null = null;
        if (!PN_SID.test(target)) {
          const page = (await client.get(`/v1/numbers?${new URLSearchParams({ phoneNumber: target }).toString()}`)) as NumberPageJson;
          const found = page.numbers.find((n) => n.phoneNumber === target);
          if (!found) throw new ApiClientError(404, 20404, `no number ${target} on this account`);
          sid = found.sid;
          phoneNumber = found.phoneNumber;
        }
        await client.delete(`/v1/numbers/${encodeURIComponent(sid)}`);
        print(values.json === true, { sid, deleted: true }, () => `Removed ${phoneNumber ? `${phoneNumber} (${sid})` : sid}.\n`);
        return;
      }
      case undefined:
        throw new CliUsageError('missing subcommand (list, add or remove)');
      default:
        throw new CliUsageError(`unknown subcommand "${sub}"`);
    }
  });
}

export const numbersCommand = {
  summary: 'list, add and remove the numbers inbound calls are routed by',
  usage: 'patchbay numbers list|add|remove',
  help: (): string => HELP,
  run,
};
