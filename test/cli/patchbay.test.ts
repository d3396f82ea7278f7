// The real entry point, as a process: exit codes and output of the `patchbay` command.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ENTRY = fileURLToPath(new URL('../../src/cli/patchbay.ts', import.meta.url));

function patchbay(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, ['--import', 'tsx', ENTRY, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 });
}

describe('patchbay command', () => {
  it('--version prints the version and exits 0', () => {
    const r = patchbay(['--version']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
  });

  it('a bad setting from the environment exits 2 naming the variable', () => {
    const r = patchbay(['start'], { PATCHBAY_HTTP_PORT: 'eighty' });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /PATCHBAY_HTTP_PORT: "eighty" is not a port number/);
  });
});
