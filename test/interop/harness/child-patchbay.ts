/**
 * Patchbay as a separate OS process (the real CLI), for tests that kill it (-9) or signal it (TERM).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { TEST_ACCOUNT_SID, TEST_AUTH_TOKEN } from './patchbay.js';

const ROOT = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', '..');

async function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A port free for both UDP and TCP on loopback. */
export async function freePort(): Promise<number> {
  for (;;) {
    const p = 21000 + Math.floor(Math.random() * 9000);
    if ((await tcpFree(p)) && (await udpFree(p))) return p;
  }
}

export interface ChildPatchbay {
  proc: ChildProcess;
  sipPort: number;
  httpPort: number;
  output(): string;
  exited: Promise<number | null>;
}

export interface SpawnOptions {
  /** Extra Node flags for the child (the soak preloads a memory probe with --import). */
  nodeArgs?: string[];
}

export async function spawnPatchbay(dataDir: string, env: Record<string, string>, opts: SpawnOptions = {}): Promise<ChildPatchbay> {
  const sipPort = await freePort();
  const httpPort = await freePort();
  // PATCHBAY_CHILD_NODE_ARGS: extra Node flags for the child (e.g. --cpu-prof when profiling a benchmark).
  const nodeArgs = [...(process.env.PATCHBAY_CHILD_NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...(opts.nodeArgs ?? [])];
  const proc = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', join(ROOT, 'src/cli/patchbay.ts'), 'start'], {
    cwd: ROOT,
    env: {
      ...process.env,
      PATCHBAY_SIP_HOST: '127.0.0.1',
      PATCHBAY_HTTP_HOST: '127.0.0.1',
      PATCHBAY_SIP_PORT: String(sipPort),
      PATCHBAY_HTTP_PORT: String(httpPort),
      PATCHBAY_DATA_DIR: dataDir,
      PATCHBAY_ACCOUNT_SID: TEST_ACCOUNT_SID,
      PATCHBAY_AUTH_TOKEN: TEST_AUTH_TOKEN,
      PATCHBAY_LOG_LEVEL: 'info',
      // TLS, WS and WSS have fixed default ports: off unless a test asks (port 0 picks a free one).
      PATCHBAY_TLS_PORT: 'off',
      PATCHBAY_WS_PORT: 'off',
      PATCHBAY_WSS_PORT: 'off',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  const start = Date.now();
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`patchbay exited early:\n${out}`);
    try {
      const res = await fetch(`http://127.0.0.1:${httpPort}/healthz`);
      if (res.status === 200) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() - start > 30000) throw new Error(`patchbay not ready:\n${out}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { proc, sipPort, httpPort, output: () => out, exited };
}
