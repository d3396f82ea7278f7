/**
 * `patchbay calls list|get|create|hangup`: the native /v1/calls API from a terminal. Tables for
 * people, `--json` for scripts (the API's own JSON, unchanged).
 */
import { parseArgs } from 'node:util';
import { ApiClient, CliUsageError, CONNECTION_HELP, CONNECTION_OPTIONS, onePositional, printResult, resolveConnection, runApiCommand, type ApiCommandIo } from './api-client.js';
import { formatFields, formatTable } from './table.js';

interface CallJson {
  sid: string;
  status: string;
  direction: string;
  from: string;
  to: string;
  startTime: string;
  answerTime: string | null;
  endTime: string | null;
  durationSeconds: number | null;
  sipCallId: string | null;
  sipResponseCode: number | null;
  errorCode: number | null;
  errorMessage: string | null;
  endReason: string | null;
  parentCallSid: string | null;
  events?: { at: string; type: string; detail: Record<string, unknown> }[];
}

interface CallPageJson {
  calls: CallJson[];
  nextPageToken: string | null;
}

const USAGE = [
  'Usage:',
  '  patchbay calls list [--status S] [--to T] [--from F] [--limit N] [--page-token T]',
  '  patchbay calls get <CA…>',
  '  patchbay calls create --to <to> --from <from> (--url <url> [--method GET|POST] | --twiml <xml> | --application-sid <AP…>)',
  '                        [--status-callback <url>] [--status-callback-event <event>]… [--timeout <s>] [--time-limit <s>]',
  '                        [--send-digits <digits>] [--caller-id <id>]',
  '  patchbay calls hangup <CA…>',
].join('\n');

const HELP = `${USAGE}

Lists, shows, places and hangs up calls through the server's REST API (/v1/calls).
  list     newest first; --limit is the page size (1-1000, default 50); the next page's token is
           printed on stderr
  get      one call with its event timeline
  create   places an outbound call; --url (wins) or --twiml or --application-sid says what it runs
  hangup   ends a live call (cancels it if it is not answered yet)

${CONNECTION_HELP}
`;

const iso = (t: string | null): string | null => (t === null ? null : t.replace(/\.\d{3}Z$/, 'Z'));
const seconds = (n: number | null): string | null => (n === null ? null : `${n}s`);

function callFields(c: CallJson): string {
  return formatFields([
    ['sid', c.sid],
    ['status', c.status],
    ['direction', c.direction],
    ['from', c.from],
    ['to', c.to],
    ['started', iso(c.startTime)],
    ['answered', iso(c.answerTime)],
    ['ended', iso(c.endTime)],
    ['duration', seconds(c.durationSeconds)],
    ['parent call', c.parentCallSid],
    ['sip call-id', c.sipCallId],
    ['sip response', c.sipResponseCode],
    ['error', c.errorCode === null ? null : `${c.errorCode}${c.errorMessage ? ` ${c.errorMessage}` : ''}`],
    ['end reason', c.endReason],
  ]);
}

function detailText(detail: Record<string, unknown>): string {
  const text = JSON.stringify(detail);
  if (text === '{}') return '';
  return text.length > 100 ? `${text.slice(0, 99)}…` : text;
}


function integerOption(value: string | undefined, flag: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[0-9]+$/.test(value) || Number(value) < min || Number(value) > max) throw new CliUsageError(`--${flag} must be a whole number from ${min} to ${max}, got "${value}"`);
  return Number(value);
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
          options: { ...CONNECTION_OPTIONS, status: { type: 'string' }, to: { type: 'string' }, from: { type: 'string' }, limit: { type: 'string' }, 'page-token': { type: 'string' } },
        });
        if (positionals.length > 0) throw new CliUsageError(`unexpected argument "${positionals[0]}"`);
        const limit = integerOption(values.limit, 'limit', 1, 1000);
        const client = new ApiClient(resolveConnection(values, env));
        const query = new URLSearchParams();
        if (values.status !== undefined) query.set('status', values.status);
        if (values.to !== undefined) query.set('to', values.to);
        if (values.from !== undefined) query.set('from', values.from);
        if (limit !== undefined) query.set('pageSize', String(limit));
        if (values['page-token'] !== undefined) query.set('pageToken', values['page-token']);
        const qs = query.toString();
        const page = (await client.get(`/v1/calls${qs ? `?${qs}` : ''}`)) as CallPageJson;
        print(values.json === true, page, () =>
          page.calls.length === 0
            ? 'No calls.\n'
            : formatTable(
              ['sid', 'status', 'direction', 'from', 'to', 'started', 'duration'],
              page.calls.map((c) => [c.sid, c.status, c.direction, c.from, c.to, iso(c.startTime), seconds(c.durationSeconds)]),
            ));
        if (page.nextPageToken && values.json !== true) io.stderr(`More calls: patchbay calls list --page-token ${page.nextPageToken}\n`);
        return;
      }
      case 'get': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, strict: true, options: CONNECTION_OPTIONS });
        const sid = onePositional(positionals, 'call SID');
        const client = new ApiClient(resolveConnection(values, env));
        const call = (await client.get(`/v1/calls/${encodeURIComponent(sid)}`)) as CallJson;
        print(values.json === true, call, () => {
          const events = call.events ?? [];
          if (events.length === 0) return callFields(call);
          return `${callFields(call)}\n${formatTable(['at', 'event', 'detail'], events.map((e) => [iso(e.at), e.type, detailText(e.detail)]))}`;
        });
        return;
      }
      case 'create': {
        const { values, positionals } = parseArgs({
          args: rest, allowPositionals: true, strict: true,
          options: {
            ...CONNECTION_OPTIONS,
            to: { type: 'string' }, from: { type: 'string' }, url: { type: 'string' }, method: { type: 'string' }, twiml: { type: 'string' },
            'application-sid': { type: 'string' }, 'status-callback': { type: 'string' }, 'status-callback-method': { type: 'string' },
            'status-callback-event': { type: 'string', multiple: true }, timeout: { type: 'string' }, 'time-limit': { type: 'string' },
            'send-digits': { type: 'string' }, 'caller-id': { type: 'string' },
          },
        });
        if (positionals.length > 0) throw new CliUsageError(`unexpected argument "${positionals[0]}"`);
        if (values.to === undefined) throw new CliUsageError('--to is required');
        if (values.from === undefined) throw new CliUsageError('--from is required');
        if (values.url === undefined && values.twiml === undefined && values['application-sid'] === undefined) {
          throw new CliUsageError('one of --url, --twiml or --application-sid is required');
        }
        const body: Record<string, unknown> = {
          to: values.to,
          from: values.from,
          url: values.url,
          method: values.method?.toUpperCase(),
          twiml: values.twiml,
          applicationSid: values['application-sid'],
          statusCallback: values['status-callback'],
          statusCallbackMethod: values['status-callback-method']?.toUpperCase(),
          // Repeated or space/comma separated, as the Twilio API takes them.
          statusCallbackEvent: values['status-callback-event']?.flatMap((e) => e.split(/[\s,]+/)).filter((e) => e !== ''),
          timeout: integerOption(values.timeout, 'timeout', 1, 600),
          timeLimit: integerOption(values['time-limit'], 'time-limit', 1, 2_147_483),
          sendDigits: values['send-digits'],
          callerId: values['caller-id'],
        };
        for (const key of Object.keys(body)) if (body[key] === undefined) delete body[key];
        const client = new ApiClient(resolveConnection(values, env));
        const call = (await client.post('/v1/calls', body)) as CallJson;
        print(values.json === true, call, () => callFields(call));
        return;
      }
      case 'hangup': {
        const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, strict: true, options: CONNECTION_OPTIONS });
        const sid = onePositional(positionals, 'call SID');
        const client = new ApiClient(resolveConnection(values, env));
        const call = (await client.patch(`/v1/calls/${encodeURIComponent(sid)}`, { status: 'completed' })) as CallJson;
        print(values.json === true, call, () => callFields(call));
        return;
      }
      case undefined:
        throw new CliUsageError('missing subcommand (list, get, create or hangup)');
      default:
        throw new CliUsageError(`unknown subcommand "${sub}"`);
    }
  });
}

export const callsCommand = {
  summary: 'list, show, place and hang up calls (REST API)',
  usage: 'patchbay calls list|get|create|hangup',
  help: (): string => HELP,
  run,
};
