#!/usr/bin/env node
/**
 * Entry point of the `patchbay` command (bin/patchbay.js imports the compiled copy; tests run it
 * under tsx). Wires the real process to runCli: stdout/stderr, SIGTERM/SIGINT, exit code.
 */
import { runCli, type TerminationSignal } from './run-cli.js';
import { processEnvironment } from '../config.js';

const code = await runCli(process.argv.slice(2), {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  env: processEnvironment(),
  onSignal: (handler) => {
    const signals: TerminationSignal[] = ['SIGTERM', 'SIGINT'];
    const listeners = signals.map((s) => [s, () => handler(s)] as const);
    for (const [s, fn] of listeners) process.on(s, fn);
    return () => {
      for (const [s, fn] of listeners) process.off(s, fn);
    };
  },
});
process.exitCode = code;
// A failure or a second signal: leave now, even with sockets still open.
if (code !== 0) process.exit(code);
// After a clean stop nothing should keep us alive; if something still does (a stray socket or
// timer), leave anyway rather than hang a service manager.
setTimeout(() => process.exit(code), 2000).unref();
