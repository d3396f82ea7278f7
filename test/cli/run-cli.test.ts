import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { runCli, type CliIo, type ServerModule, type TerminationSignal } from '../../src/cli/run-cli.js';
import type { PatchbayConfig } from '../../src/config.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Records output and lets a test deliver signals and control the fake server. */
function harness(server: Partial<{ start: (c: PatchbayConfig) => Promise<void>; stop: (reason?: string) => Promise<void> }> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const started: PatchbayConfig[] = [];
  const stops: (string | undefined)[] = [];
  let handler: ((s: TerminationSignal) => void) | null = null;
  let subscribed = 0;
  const mod: ServerModule = {
    async startServer(config) {
      started.push(config);
      await server.start?.(config);
      return { stop: async (reason) => { stops.push(reason); await server.stop?.(reason); } };
    },
  };
  const io: CliIo = {
    stdout: (t) => void out.push(t),
    stderr: (t) => void err.push(t),
    env: { PATCHBAY_HTTP_PORT: '0', PATCHBAY_SIP_PORT: '0' },
    loadServer: async () => mod,
    onSignal: (h) => {
      handler = h;
      subscribed++;
      return () => {
        handler = null;
        subscribed--;
      };
    },
  };
  return {
    io, started, stops,
    out: () => out.join(''), err: () => err.join(''),
    signal: (s: TerminationSignal) => { assert.ok(handler, 'signal handler installed'); handler(s); },
    subscribed: () => subscribed,
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('runCli', () => {
  it('prints the package version', async () => {
    const h = harness();
    assert.equal(await runCli(['--version'], h.io), 0);
    assert.equal(h.out(), `${VERSION}\n`);
  });

  it('prints general and command help', async () => {
    const h = harness();
    assert.equal(await runCli(['--help'], h.io), 0);
    assert.match(h.out(), /patchbay start \[settings\]/);
    const h2 = harness();
    assert.equal(await runCli(['start', '--help'], h2.io), 0);
    assert.match(h2.out(), /--voice-url <url>/);
    assert.equal(h2.started.length, 0, 'help never starts the server');
  });

  it('rejects unknown commands, missing commands and misplaced options with exit 2', async () => {
    for (const argv of [['frobnicate'], [], ['--sip-port', '1', 'start']]) {
      const h = harness();
      assert.equal(await runCli(argv, h.io), 2, argv.join(' '));
      assert.ok(h.err().length > 0);
    }
    const h = harness();
    await runCli(['--sip-port', '1', 'start'], h.io);
    assert.match(h.err(), /"--sip-port" must come after a command/);
  });

  it('exits 2 with the setting named on a configuration error, without starting', async () => {
    const h = harness();
    assert.equal(await runCli(['start', '--rtp-ports', 'lots'], h.io), 2);
    assert.match(h.err(), /^patchbay: configuration error: --rtp-ports: "lots"/);
    assert.equal(h.started.length, 0);
  });

  it('starts with the loaded config and drains on SIGTERM', async () => {
    const h = harness();
    const done = runCli(['start', '--voice-url', 'http://127.0.0.1:1/app', '--drain-grace', '5'], h.io);
    await tick();
    assert.equal(h.started.length, 1);
    assert.equal(h.started[0]!.voiceUrl, 'http://127.0.0.1:1/app');
    assert.equal(h.started[0]!.httpPort, 0, 'environment from io.env is used');
    h.signal('SIGTERM');
    assert.equal(await done, 0);
    assert.deepEqual(h.stops, ['SIGTERM']);
    assert.match(h.err(), /SIGTERM received, draining calls for up to 5 s/);
    assert.equal(h.subscribed(), 0, 'signal handlers removed');
  });

  it('a second signal ends the wait for a slow drain with exit 1', async () => {
    const h = harness({ stop: () => new Promise<void>(() => {}) });
    const done = runCli(['start'], h.io);
    await tick();
    h.signal('SIGINT');
    await tick();
    h.signal('SIGINT');
    assert.equal(await done, 1);
    assert.match(h.err(), /SIGINT again/);
  });

  it('a signal during start-up stops the server as soon as it is up', async () => {
    let finishStart: () => void = () => {};
    const h = harness({ start: () => new Promise<void>((r) => (finishStart = r)) });
    const done = runCli(['start'], h.io);
    await tick();
    h.signal('SIGTERM');
    assert.deepEqual(h.stops, []);
    finishStart();
    assert.equal(await done, 0);
    assert.deepEqual(h.stops, ['SIGTERM']);
  });

  it('reports start and stop failures with exit 1', async () => {
    const h = harness({ start: async () => { throw new Error('listen EADDRINUSE: address already in use 0.0.0.0:5060'); } });
    assert.equal(await runCli(['start'], h.io), 1);
    assert.match(h.err(), /failed to start: listen EADDRINUSE/);
    assert.equal(h.subscribed(), 0);

    const h2 = harness({ stop: async () => { throw new Error('store close failed'); } });
    const done = runCli(['start'], h2.io);
    await tick();
    h2.signal('SIGTERM');
    assert.equal(await done, 1);
    assert.match(h2.err(), /error while stopping: store close failed/);
  });
});
