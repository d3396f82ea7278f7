#!/usr/bin/env node
// The `patchbay` command: runs the compiled CLI (built by `npm install` / `npm run build`).
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const compiled = join(root, 'dist', 'cli', 'patchbay.js');
if (!existsSync(compiled)) {
  console.error('patchbay: dist/ is missing; run `npm run build` first.');
  process.exit(1);
}
await import(pathToFileURL(compiled).href);
