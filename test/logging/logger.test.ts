import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createLogger } from '../../src/logging/logger.js';

function capture(): { lines: string[]; logger: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, logger: createLogger({ level: 'trace', destination: { write: (l: string) => void lines.push(l) } }) };
}

describe('createLogger redaction', () => {
  it('censors credential fields at the top level and one object down, keeping the rest', () => {
    const { lines, logger } = capture();
    logger.info({ password: 'p-top', authToken: 't-top', carrier: { host: 'sip.example', password: 'p-nested' }, user: 'kept' }, 'one');
    logger.debug({ headers: { authorization: 'Basic c2VjcmV0', 'x-twilio-signature': 'sig-value', accept: '*/*' } }, 'two');
    logger.trace({ req: { headers: { authorization: 'Digest response="abc123"', cookie: 'session=s3' } } }, 'three');
    logger.warn({ key: { sid: 'SK1', secret: 'key-secret' }, sipUser: { ha1Md5: 'ha1-value', ha1Sha256: 'ha1-256' }, AuthToken: 'twilio-form-token' }, 'four');
    const log = lines.join('');
    for (const secret of ['p-top', 't-top', 'p-nested', 'c2VjcmV0', 'sig-value', 'abc123', 'session=s3', 'key-secret', 'ha1-value', 'ha1-256', 'twilio-form-token']) {
      assert.ok(!log.includes(secret), `${secret} leaked: ${log}`);
    }
    assert.equal(lines.length, 4);
    assert.match(log, /"user":"kept"/);
    assert.match(log, /"host":"sip\.example"/);
    assert.match(log, /"accept":"\*\/\*"/);
    assert.match(log, /\[redacted\]/);
  });
});
