/**
 * The CLI's HTTP client for the native /v1 API: where the server is and whose credentials to use
 * (flags, then PATCHBAY_* variables from the environment the caller passes in, never read here),
 * Basic auth, JSON bodies, and API errors turned into one typed error carrying the API's code and
 * message so commands can print them and exit 1.
 */

export const DEFAULT_API_URL = 'http://127.0.0.1:8080';

export interface ApiConnection {
  /** Base URL without a trailing slash, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  accountSid: string;
  authToken: string;
}

/** A problem with the command line or environment (exit code 2). */
export class CliUsageError extends Error {
  override readonly name = 'CliUsageError';
}

/**
 * A failed API request: the server's JSON error (`code` is the Twilio-style error code), or a
 * transport failure (`status` 0, `code` null) when the server could not be reached.
 */
export class ApiClientError extends Error {
  override readonly name = 'ApiClientError';
  constructor(
    readonly status: number,
    readonly code: number | null,
    message: string,
  ) {
    super(message);
  }
}

export interface ConnectionFlags {
  'api-url'?: string;
  'account-sid'?: string;
  'auth-token'?: string;
}

/** Flags win over the environment; the URL defaults to the local server. Throws CliUsageError. */
export function resolveConnection(flags: ConnectionFlags, env: Readonly<Record<string, string | undefined>>): ApiConnection {
  const pick = (flag: keyof ConnectionFlags, variable: string): string | undefined => {
    const v = flags[flag] ?? env[variable];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const rawUrl = pick('api-url', 'PATCHBAY_API_URL') ?? DEFAULT_API_URL;
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new CliUsageError(`--api-url / PATCHBAY_API_URL: "${rawUrl}" is not a URL`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new CliUsageError(`--api-url / PATCHBAY_API_URL: "${rawUrl}" must be http:// or https://`);
  const accountSid = pick('account-sid', 'PATCHBAY_ACCOUNT_SID');
  const authToken = pick('auth-token', 'PATCHBAY_AUTH_TOKEN');
  if (!accountSid || !authToken) {
    throw new CliUsageError('credentials missing: set PATCHBAY_ACCOUNT_SID and PATCHBAY_AUTH_TOKEN (or --account-sid / --auth-token)');
  }
  return { baseUrl: url.toString().replace(/\/+$/, ''), accountSid, authToken };
}

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface ApiClientOptions {
  /** Default: the global fetch. */
  fetch?: FetchLike;
  /** Per-request time limit; default 30 s. */
  timeoutMs?: number;
}

interface ErrorJson {
  code?: unknown;
  message?: unknown;
}

export class ApiClient {
  private readonly fetch: FetchLike;
  private readonly timeoutMs: number;

  constructor(
    readonly connection: ApiConnection,
    options: ApiClientOptions = {},
  ) {
    this.fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** The parsed JSON response, or null for 204. Rejects with ApiClientError. */
  async request(method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<unknown> {
    const url = `${this.connection.baseUrl}${path}`;
    const credentials = Buffer.from(`${this.connection.accountSid}:${this.connection.authToken}`, 'utf8').toString('base64');
    const headers: Record<string, string> = { authorization: `Basic ${credentials}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await this.fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new ApiClientError(0, null, `cannot reach ${this.connection.baseUrl} (${why})`);
    }
    const text = await res.text();
    if (res.ok) {
      if (res.status === 204 || text === '') return null;
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new ApiClientError(res.status, null, `the server answered ${res.status} with a body that is not JSON`);
      }
    }
    let parsed: ErrorJson | null = null;
    try {
      parsed = JSON.parse(text) as ErrorJson;
    } catch {
      // Not the API's JSON (a proxy's HTML page, say): report the status and the start of the body.
    }
    const code = typeof parsed?.code === 'number' ? parsed.code : null;
    const message = typeof parsed?.message === 'string' ? parsed.message : `HTTP ${res.status} ${res.statusText}${text ? `: ${text.slice(0, 200)}` : ''}`;
    throw new ApiClientError(res.status, code, message);
  }

  get(path: string): Promise<unknown> {
    return this.request('GET', path);
  }

  post(path: string, body: unknown): Promise<unknown> {
    return this.request('POST', path, body);
  }

  patch(path: string, body: unknown): Promise<unknown> {
    return this.request('PATCH', path, body);
  }

  delete(path: string): Promise<unknown> {
    return this.request('DELETE', path);
  }
}

/** What an API command needs of the CLI's I/O (a subset of run-cli's CliIo). */
export interface ApiCommandIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /** PATCHBAY_API_URL, PATCHBAY_ACCOUNT_SID, PATCHBAY_AUTH_TOKEN; absent means none set. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** Options every API command takes. */
export const CONNECTION_OPTIONS = {
  'api-url': { type: 'string' },
  'account-sid': { type: 'string' },
  'auth-token': { type: 'string' },
  json: { type: 'boolean' },
} as const;

export const CONNECTION_HELP = [
  'Connection (flags win over the environment):',
  `  --api-url <url>         the Patchbay HTTP API (PATCHBAY_API_URL) [${DEFAULT_API_URL}]`,
  '  --account-sid <AC…>     account SID (PATCHBAY_ACCOUNT_SID)',
  '  --auth-token <token>    auth token or API key secret (PATCHBAY_AUTH_TOKEN; prefer the variable:',
  '                          command lines are visible in ps)',
  '  --json                  print the API\'s JSON instead of a table',
].join('\n');

/**
 * Runs one API command and maps its failure to an exit code: 2 for usage (bad flags, missing
 * arguments or credentials; the usage text follows), 1 for an API or transport error (its code
 * and message), 0 otherwise. Anything else is a bug and propagates.
 */
export async function runApiCommand(io: ApiCommandIo, usage: string, body: () => Promise<void>): Promise<number> {
  try {
    await body();
    return 0;
  } catch (err) {
    if (err instanceof CliUsageError || isParseArgsError(err)) {
      io.stderr(`patchbay: ${(err as Error).message}\n\n${usage}\n`);
      return 2;
    }
    if (err instanceof ApiClientError) {
      const code = err.code === null ? '' : `error ${err.code}: `;
      const status = err.status === 0 ? '' : ` (HTTP ${err.status})`;
      io.stderr(`patchbay: ${code}${err.message}${status}\n`);
      return 1;
    }
    throw err;
  }
}

/** node:util parseArgs reports unknown or malformed options as TypeErrors with ERR_PARSE_ARGS_* codes. */
function isParseArgsError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

/** The one positional argument a subcommand takes (a SID, a number): missing or extra is a usage error. */
export function onePositional(values: readonly string[], name: string): string {
  if (values.length === 0) throw new CliUsageError(`missing ${name}`);
  if (values.length > 1) throw new CliUsageError(`unexpected argument "${values[1]}"`);
  return values[0]!;
}

/** Prints the API's JSON for scripts (`--json`), or the human text. */
export function printResult(io: Pick<ApiCommandIo, 'stdout'>, json: boolean, value: unknown, human: () => string): void {
  io.stdout(json ? `${JSON.stringify(value, null, 2)}\n` : human());
}
