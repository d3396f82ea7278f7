#!/usr/bin/env node
// Runs the test suite with Node's own test runner (TypeScript through tsx).
// --unit: everything but test/interop; --interop: only test/interop; no flag: all.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function findTests(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...findTests(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}

const mode = process.argv[2];
let files = findTests('test').sort();
if (mode === '--unit') files = files.filter((f) => !f.includes('/interop/'));
if (mode === '--interop') files = files.filter((f) => f.includes('/interop/'));
const extra = process.argv.slice(mode?.startsWith('--') ? 3 : 2);
if (extra.length) files = files.filter((f) => extra.some((e) => f.includes(e)));

const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
