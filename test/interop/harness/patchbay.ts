/**
 * Starts a real Patchbay (the same startServer the CLI uses) on loopback with ephemeral ports and a
 * temporary data directory, for interop tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig, type PatchbayConfig } from '../../../src/config.js';
import { startServer, type RunningServer } from '../../../src/server.js';

export interface TestPatchbay extends RunningServer {
  config: PatchbayConfig;
  dataDir: string;
  /** `stop` then remove the data directory. */
  dispose(): Promise<void>;
}

export const TEST_ACCOUNT_SID = 'AC' + '0123456789abcdef'.repeat(2);
export const TEST_AUTH_TOKEN = 'test-auth-token-0123456789';

export async function startPatchbay(overrides: Record<string, string> = {}, dataDir?: string): Promise<TestPatchbay> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'patchbay-test-'));
  const env: Record<string, string> = {
    PATCHBAY_SIP_HOST: '127.0.0.1',
    PATCHBAY_SIP_PORT: '0',
    PATCHBAY_HTTP_HOST: '127.0.0.1',
    PATCHBAY_HTTP_PORT: '0',
    PATCHBAY_DATA_DIR: dir,
    PATCHBAY_ACCOUNT_SID: TEST_ACCOUNT_SID,
    PATCHBAY_AUTH_TOKEN: TEST_AUTH_TOKEN,
    PATCHBAY_DRAIN_GRACE: '2',
    PATCHBAY_LOG_LEVEL: 'warn',
    // TLS, WS and WSS stay off unless a test asks (port 0 for an ephemeral one): no fixed ports, no certificate work.
    PATCHBAY_TLS_PORT: 'off',
    PATCHBAY_WS_PORT: 'off',
    PATCHBAY_WSS_PORT: 'off',
    ...overrides,
  };
  const config = loadConfig([], env);
  const server = await startServer(config, { logger: pino({ level: env.PATCHBAY_LOG_LEVEL ?? 'warn' }) });
  return {
    ...server,
    stop: server.stop,
    config,
    dataDir: dir,
    async dispose() {
      await server.stop('test-end');
      if (!dataDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** GET a native API path with the test account's credentials. */
export async function apiGet(pb: { httpPort: number }, path: string): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${pb.httpPort}${path}`, {
    headers: { authorization: 'Basic ' + Buffer.from(`${TEST_ACCOUNT_SID}:${TEST_AUTH_TOKEN}`).toString('base64') },
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}
