/**
 * Twilio's list pages (twilio-voice.md §4.3): `PageSize` (1–1000, default 50), `Page` (0-based,
 * informational) and `PageToken` (an opaque cursor) in the query, and the page metadata around the
 * records. The store pages by keyset, so `PageToken` is the store's own `nextPageToken` and
 * `next_page_uri` carries it. URIs are relative: twilio-node prepends its base URL to
 * `next_page_uri` and follows it, and reads every key but the metadata as the record list, so a
 * page holds exactly one other key.
 */
import { badRequest } from './api-errors.js';

export interface TwilioPaging {
  pageSize: number;
  /** 0-based page number, as the client counts it (only used for `page`, `start`, `end`). */
  page: number;
  pageToken?: string;
}

/** The metadata keys twilio-node knows; `T` pages add exactly one records key beside them. */
export interface TwilioPageMeta {
  first_page_uri: string;
  next_page_uri: string | null;
  previous_page_uri: string | null;
  uri: string;
  page: number;
  page_size: number;
  start: number;
  end: number;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 1000;
/** Longer than any token the store issues, short enough to refuse garbage early. */
const MAX_TOKEN_LENGTH = 200;

type Query = Record<string, unknown>;

/** One query value; a key given twice is refused rather than guessed. */
export function queryValue(query: unknown, key: string): string | undefined {
  const value = (query as Query | undefined)?.[key];
  if (value === undefined) return undefined;
  if (Array.isArray(value)) throw badRequest(`${key} was given ${value.length} times`);
  return String(value);
}

function nonNegativeInt(query: unknown, key: string): number | undefined {
  const raw = queryValue(query, key);
  if (raw === undefined) return undefined;
  if (!/^[0-9]{1,7}$/.test(raw)) throw badRequest(`Invalid ${key}: expected a whole number, got "${raw}"`);
  return Number(raw);
}

/** `PageSize`, `Page` and `PageToken` from a list request's query; 400 (20001) naming the bad one. */
export function readTwilioPaging(query: unknown): TwilioPaging {
  const pageSize = nonNegativeInt(query, 'PageSize') ?? DEFAULT_PAGE_SIZE;
  if (pageSize < 1 || pageSize > MAX_PAGE_SIZE) throw badRequest(`Invalid PageSize: must be 1 to ${MAX_PAGE_SIZE}, got ${pageSize}`);
  const page = nonNegativeInt(query, 'Page') ?? 0;
  const pageToken = queryValue(query, 'PageToken');
  if (pageToken !== undefined && (pageToken === '' || pageToken.length > MAX_TOKEN_LENGTH)) throw badRequest('Invalid PageToken');
  // Pages are keyset cursors: page N can only be reached through the token page N-1 gave.
  if (page > 0 && pageToken === undefined) throw badRequest('Invalid Page: pages after the first are reached through next_page_uri (PageToken)');
  return pageToken === undefined ? { pageSize, page } : { pageSize, page, pageToken };
}

export interface TwilioPageMetaArgs {
  /** The list's path, e.g. `/2010-04-01/Accounts/AC…/Applications.json`. */
  path: string;
  /** The list's filters as the client spelled them (`FriendlyName`...); undefined ones are left out. */
  filters?: Readonly<Record<string, string | undefined>>;
  paging: TwilioPaging;
  /** Records on this page. */
  count: number;
  /** The store's cursor for the following page; null on the last page. */
  nextPageToken: string | null;
}

/** The page metadata of §4.3 around a page of `count` records. */
export function twilioPageMeta(args: TwilioPageMetaArgs): TwilioPageMeta {
  const { path, paging } = args;
  const uriFor = (page: number, token: string | undefined): string => {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(args.filters ?? {})) if (v !== undefined) params.set(k, v);
    params.set('PageSize', String(paging.pageSize));
    params.set('Page', String(page));
    if (token !== undefined) params.set('PageToken', token);
    return `${path}?${params.toString()}`;
  };
  const start = paging.page * paging.pageSize;
  return {
    first_page_uri: uriFor(0, undefined),
    next_page_uri: args.nextPageToken === null ? null : uriFor(paging.page + 1, args.nextPageToken),
    // Keyset cursors only run forwards; clients go back by starting again from first_page_uri.
    previous_page_uri: null,
    uri: uriFor(paging.page, paging.pageToken),
    page: paging.page,
    page_size: paging.pageSize,
    start,
    end: args.count === 0 ? start : start + args.count - 1,
  };
}

/** A whole Twilio list page: the records under `key` (e.g. `incoming_phone_numbers`) and the metadata. */
export function twilioPage<K extends string, T>(key: K, records: T[], meta: TwilioPageMeta): TwilioPageMeta & Record<K, T[]> {
  return { ...meta, [key]: records } as TwilioPageMeta & Record<K, T[]>;
}
