/**
 * The HTTP GET the `<Play>` media fetcher uses when Patchbay runs with an EgressPolicy: the same
 * contract as `fetch(url, { headers, signal, redirect: 'manual' })` (the fetcher follows
 * redirects itself, one call per hop), but over node:http/https so the policy's DNS hook and CA
 * list apply; the global fetch offers neither per request.
 *
 * A blocked address fails with MediaFetchError 'blocked-address'; other socket failures reject
 * with a TypeError whose `cause` is the socket error, as fetch does, so the fetcher classifies
 * both kinds of transport alike. Media GETs are not signed (see README "Hardening").
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { MediaFetchError, type MediaHttpGet } from '../media/media-fetcher.js';
import { BLOCKED_ADDRESS_CODE } from './address-policy.js';
import type { EgressPolicy } from './egress-policy.js';

/** Statuses whose Response must have a null body (the Fetch standard's "null body status"). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

function asResponse(res: IncomingMessage): Response {
  const headers = new Headers();
  for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) headers.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
  const status = res.statusCode ?? 0;
  if (NULL_BODY.has(status)) {
    res.destroy();
    return new Response(null, { status, headers });
  }
  return new Response(Readable.toWeb(res) as ReadableStream<Uint8Array>, { status, headers });
}

export function mediaHttpGet(policy: EgressPolicy): MediaHttpGet {
  return (url, init) =>
    new Promise<Response>((resolve, reject) => {
      const target = new URL(url);
      const blocked = (err: { message: string }): MediaFetchError => new MediaFetchError('blocked-address', `GET ${url} refused: ${err.message}`, url);
      try {
        policy.check(target);
      } catch (err) {
        reject(blocked(err as Error));
        return;
      }
      const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
      const req = send(target, { method: 'GET', headers: init.headers, signal: init.signal, ...policy.socketOptions() }, (res) => resolve(asResponse(res)));
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code === BLOCKED_ADDRESS_CODE) reject(blocked(err));
        else reject(new TypeError('fetch failed', { cause: err }));
      });
      req.end();
    });
}
