/**
 * The process logger: pino (JSON lines) with redaction of every field that can carry a secret,
 * so no log level, not even trace, writes credentials. Redaction is the safety net; code should
 * not put secrets in log objects in the first place (test/logging/secrets-never-logged.test.ts
 * drives requests carrying each kind of secret and searches the whole log output for them).
 *
 * Redacted wherever they appear at the top level or one object down (pino's `*.` paths):
 * HTTP Authorization headers and cookies, passwords, auth tokens, API key secrets, SIP digest
 * credentials (Authorization / Proxy-Authorization values, HA1s, responses) and webhook signatures.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

/** Field names whose values are secrets, matched case-sensitively as code spells them. */
const SECRET_KEYS = [
  'authorization',
  'Authorization',
  'proxy-authorization',
  'Proxy-Authorization',
  'cookie',
  'set-cookie',
  'password',
  'Password',
  'authToken',
  'auth_token',
  'AuthToken',
  'secret',
  'apiKeySecret',
  'secretSha256',
  'ha1',
  'ha1Sha256',
  'ha1Md5',
  'x-twilio-signature',
  'X-Twilio-Signature',
];

function redactPaths(): string[] {
  const paths: string[] = [];
  for (const key of SECRET_KEYS) {
    const safe = /^[A-Za-z_$][\w$]*$/.test(key) ? key : `["${key}"]`;
    const dot = safe.startsWith('[') ? '' : '.';
    paths.push(safe, `*${dot}${safe}`);
  }
  // Request headers as fastify and node:http log them.
  paths.push('req.headers.authorization', 'req.headers.cookie', 'headers.authorization', 'request.headers.authorization');
  return paths;
}

export interface LoggerOptions {
  level: string;
  /** Where lines go (default stdout); tests pass a buffer. */
  destination?: DestinationStream;
}

export function createLogger(opts: LoggerOptions): Logger {
  const options = { level: opts.level, base: { svc: 'patchbay' }, redact: { paths: redactPaths(), censor: '[redacted]' } };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}
