/**
 * The data directory's lock file: two PGlite instances on one directory would corrupt it, so a
 * second process (or a second open in this one) is refused while the holder lives; a lock left
 * by a crashed process is replaced.
 */
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { StoreError } from './store-types.js';

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Lock files held by this process (our own PID in a lock file may be a previous incarnation's). */
const heldLocks = new Set<string>();

/** Takes `<dataDir>/patchbay.lock` (our PID), replacing a stale one left by a crashed process. */
export function acquireLock(dataDir: string): string {
  const path = resolve(dataDir, 'patchbay.lock');
  if (heldLocks.has(path)) throw new StoreError('STORE_LOCKED', `data directory ${dataDir} is already open in this process`);
  for (let attempt = 0; ; attempt++) {
    try {
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx' });
      heldLocks.add(path);
      return path;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt > 0) {
        throw new StoreError('DB_ERROR', `cannot lock data directory ${dataDir}: ${(err as Error).message}`);
      }
    }
    const pid = Number.parseInt(readFileSync(path, 'utf8'), 10);
    // Our own PID here means a previous run with the same PID (typical in containers, where we
    // are often PID 1) died without removing it: stale.
    if (pid > 0 && pid !== process.pid && isAlive(pid)) {
      throw new StoreError('STORE_LOCKED', `data directory ${dataDir} is in use by process ${pid}`);
    }
    unlinkSync(path);
  }
}

export function releaseLock(path: string): void {
  heldLocks.delete(path);
  try {
    unlinkSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
