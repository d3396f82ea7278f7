/**
 * What the configuration-resource commands (numbers, carriers, users) share: the list paging
 * flags and their query string, and naming a record either by SID or by its natural key (a phone
 * number, a username, a carrier's name), which is looked up through the list's exact filter.
 */
import { ApiClientError, CliUsageError, type ApiClient } from './api-client.js';

/** `--limit` and `--page-token`, for `parseArgs`. */
export const LIST_OPTIONS = {
  limit: { type: 'string' },
  'page-token': { type: 'string' },
} as const;

/** `path?pageSize=…&pageToken=…&filters…` from the list flags. Throws CliUsageError on a bad --limit. */
export function listPath(path: string, values: { limit?: string; 'page-token'?: string }, filters: Readonly<Record<string, string>> = {}): string {
  if (values.limit !== undefined && !/^(?:[1-9][0-9]{0,2}|1000)$/.test(values.limit)) {
    throw new CliUsageError(`--limit must be a whole number from 1 to 1000, got "${values.limit}"`);
  }
  const query = new URLSearchParams(filters);
  if (values.limit !== undefined) query.set('pageSize', values.limit);
  if (values['page-token'] !== undefined) query.set('pageToken', values['page-token']);
  const qs = query.toString();
  return qs ? `${path}?${qs}` : path;
}

export interface ResourceRef {
  /** e.g. `/v1/carriers`. */
  path: string;
  /** The list page's key, e.g. `carriers`. */
  listKey: string;
  /** Two-letter SID prefix, e.g. `TK`. */
  sidPrefix: string;
  /** The list filter and record field that is the natural key, e.g. `friendlyName`. */
  keyField: string;
  /** For messages: `carrier`, `user`. */
  noun: string;
}

/**
 * The SID `target` names: a SID of the resource's kind as is, anything else through the list's
 * exact filter on `keyField` (404 when none matches, a usage error when several do).
 */
export async function resolveSid(client: ApiClient, ref: ResourceRef, target: string): Promise<string> {
  if (new RegExp(`^${ref.sidPrefix}[0-9a-fA-F]{32}$`).test(target)) return target;
  const page = (await client.get(listPath(ref.path, { limit: '2' }, { [ref.keyField]: target }))) as Record<string, unknown>;
  const items = (page[ref.listKey] ?? []) as { sid: string; [field: string]: unknown }[];
  const found = items.filter((i) => i[ref.keyField] === target);
  if (found.length === 0) throw new ApiClientError(404, 20404, `no ${ref.noun} ${target} on this account`);
  if (found.length > 1) throw new CliUsageError(`several ${ref.noun}s are named ${target}: give the ${ref.sidPrefix}… SID`);
  return found[0]!.sid;
}
