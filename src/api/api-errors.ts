/**
 * API errors as JSON, with Twilio's error codes (twilio-voice.md §4.5) so clients and the
 * twilio library read them as they read Twilio's. The native API (/v1) uses camelCase
 * (`moreInfo`); the Twilio-compatible API (/2010-04-01) uses `more_info`. Every failure, including
 * schema validation, unknown routes and unexpected exceptions, leaves through `installErrorHandlers`
 * so clients never get an HTML page or a dropped connection.
 */
import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import { StoreError } from '../store/store-types.js';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    /** HTTP status. */
    readonly status: number,
    /** Twilio error code, e.g. 20404. */
    readonly code: number,
    message: string,
    /** Longer human explanation (Twilio's 401 carries one). */
    readonly detail?: string,
  ) {
    super(message);
  }
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, 20001, message);
}

export function notFound(path: string): ApiError {
  return new ApiError(404, 20404, `The requested resource ${path} was not found`);
}

export function unauthorized(): ApiError {
  return new ApiError(401, 20003, 'Authenticate', 'Your AccountSid or AuthToken was incorrect.');
}

/** Twilio codes for plain HTTP failures that have no more specific code. */
const CODE_FOR_STATUS: Readonly<Record<number, number>> = { 400: 20001, 401: 20003, 403: 20403, 404: 20404, 405: 20004, 429: 20429, 503: 20503 };

export type ErrorStyle = 'camel' | 'snake';

export function moreInfoUrl(code: number): string {
  return `https://www.twilio.com/docs/errors/${code}`;
}

export function errorBody(err: ApiError, style: ErrorStyle): Record<string, unknown> {
  const body: Record<string, unknown> = { code: err.code, message: err.message, status: err.status };
  body[style === 'camel' ? 'moreInfo' : 'more_info'] = moreInfoUrl(err.code);
  if (err.detail !== undefined) body.detail = err.detail;
  return body;
}

export function styleFor(request: FastifyRequest): ErrorStyle {
  return request.url.startsWith('/2010-04-01/') ? 'snake' : 'camel';
}

/** Turns anything thrown by a route (or by fastify itself) into an ApiError. */
export function toApiError(err: unknown): ApiError | null {
  if (err instanceof ApiError) return err;
  if (err instanceof StoreError && (err.code === 'INVALID_PAGE_TOKEN' || err.code === 'INVALID_QUERY')) return badRequest(err.message);
  const fe = err as Partial<FastifyError>;
  if (fe.validation) return badRequest(fe.message ?? 'Invalid request parameters');
  const status = fe.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new ApiError(status, CODE_FOR_STATUS[status] ?? 20001, fe.message ?? 'Bad request');
  }
  return null; // unexpected: a 500, logged by the caller
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => {
    let apiErr = toApiError(err);
    if (!apiErr) {
      request.log.error({ err }, 'unhandled API error');
      apiErr = new ApiError(500, 20500, 'Internal server error');
    }
    return reply.code(apiErr.status).type('application/json; charset=utf-8').send(errorBody(apiErr, styleFor(request)));
  });
  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0] ?? request.url;
    const err = notFound(path);
    return reply.code(404).type('application/json; charset=utf-8').send(errorBody(err, styleFor(request)));
  });
}
