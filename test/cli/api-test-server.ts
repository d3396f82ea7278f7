/**
 * A real Patchbay HTTP API on loopback for CLI tests: createHttpServer with the real store and a
 * fake CallService, plus a `cli()` that runs `patchbay …` against it and captures its output.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { RegistrationDirectory } from '../../src/calls/registrar-types.js';
import { createHttpServer } from '../../src/api/http-server.js';
import { MetricsRegistry } from '../../src/api/metrics.js';
import { runCli } from '../../src/cli/run-cli.js';
import { newSid } from '../../src/ids.js';
import { PgliteStore } from '../../src/store/pglite-store.js';
import type { Account } from '../../src/store/store-types.js';
import { FakeCallService } from '../api/fake-call-service.js';

export interface CliResult {
  code: number;
  out: string;
  err: string;
}

export interface ApiTestServer {
  store: PgliteStore;
  calls: FakeCallService;
  account: Account;
  other: Account;
  url: string;
  /** PATCHBAY_* for `account`. */
  env: Record<string, string>;
  cli(args: string[], env?: Record<string, string>): Promise<CliResult>;
  close(): Promise<void>;
}

export async function startApiTestServer(opts: { registrations?: RegistrationDirectory } = {}): Promise<ApiTestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-cli-api-'));
  const store = await PgliteStore.open(join(dir, 'db'));
  const account = (await store.ensureAccount({ sid: newSid('AC'), authToken: 'cli-secret' })).account;
  const other = (await store.ensureAccount({ sid: newSid('AC'), authToken: 'other-secret' })).account;
  const calls = new FakeCallService(store);
  const app: FastifyInstance = createHttpServer({
    store, calls, accountSid: account.sid, isReady: () => true, metrics: () => '', registry: new MetricsRegistry(), sipRealm: 'patchbay',
    ...(opts.registrations ? { registrations: opts.registrations } : {}),
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const env = { PATCHBAY_API_URL: url, PATCHBAY_ACCOUNT_SID: account.sid, PATCHBAY_AUTH_TOKEN: 'cli-secret' };
  return {
    store, calls, account, other, url, env,
    async cli(args, cliEnv = env) {
      const out: string[] = [];
      const err: string[] = [];
      const code = await runCli(args, { stdout: (t) => void out.push(t), stderr: (t) => void err.push(t), env: cliEnv });
      return { code, out: out.join(''), err: err.join('') };
    },
    async close() {
      await app.close();
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
