/**
 * Identifiers with the randomness RFC 3261 asks for: branch (§8.1.1.7, magic cookie + unique),
 * tags (§19.3, at least 32 random bits) and Call-IDs (§8.1.1.4, globally unique).
 *
 * Random bytes are drawn in blocks to keep the per-message cost to a slice and a hex encode.
 */
import { randomBytes } from 'node:crypto';

const POOL_SIZE = 4096;
let pool = randomBytes(POOL_SIZE);
let offset = 0;

function randomHex(bytes: number): string {
  if (offset + bytes > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    offset = 0;
  }
  const s = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return s;
}

export function newBranch(): string {
  return `z9hG4bK${randomHex(10)}`;
}

export function newTag(): string {
  return randomHex(6);
}

export function newCallId(host: string): string {
  return `${randomHex(12)}@${host}`;
}
