/**
 * The `patchbay` command, as a function of its arguments and an injectable I/O surface (output,
 * environment, signals, server loader) so it is testable without a process. Returns the exit
 * code: 0 success, 1 runtime failure, 2 usage or configuration error.
 *
 * `start` drains on the first SIGTERM/SIGINT (the server stops taking calls and lets live ones
 * finish within --drain-grace) and gives up waiting on a second one.
 */
import { readFileSync } from 'node:fs';
import { ConfigError, configHelp, loadConfig, type PatchbayConfig } from '../config.js';
import { callsCommand } from './calls-command.js';
import { carriersCommand } from './carriers-command.js';
import { numbersCommand } from './numbers-command.js';
import { usersCommand } from './users-command.js';
import { parseCommandLine } from './parse-args.js';

export type TerminationSignal = 'SIGTERM' | 'SIGINT';

export interface RunningPatchbay {
  stop(reason?: string): Promise<void>;
}

export interface ServerModule {
  startServer(config: PatchbayConfig): Promise<RunningPatchbay>;
}

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  /**
   * Environment for PATCHBAY_* settings; when omitted, `start` (loadConfig) reads the process
   * environment itself and the API commands see no variables (only their flags).
   */
  env?: NodeJS.ProcessEnv;
  /** Loads the composition root; dynamic so `--help` does not load the whole platform. */
  loadServer?: () => Promise<ServerModule>;
  /** Subscribes to termination signals; returns the unsubscribe function. */
  onSignal?: (handler: (signal: TerminationSignal) => void) => () => void;
}

interface Command {
  summary: string;
  usage: string;
  help(): string;
  run(args: string[], io: CliIo): Promise<number>;
}

export function packageVersion(): string {
  // Two levels up from both src/cli/run-cli.ts and dist/cli/run-cli.js.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? '0.0.0';
}

const defaultLoadServer = async (): Promise<ServerModule> => (await import('../server.js')) as ServerModule;

async function runStart(args: string[], io: CliIo): Promise<number> {
  let config: PatchbayConfig;
  try {
    config = loadConfig(args, io.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr(`patchbay: configuration error: ${err.message}\n`);
      return 2;
    }
    throw err;
  }

  // Listen for signals before starting, so a SIGTERM during start-up is not lost.
  let firstSignal: TerminationSignal | null = null;
  let resolveSignal: (s: TerminationSignal) => void = () => {};
  let resolveForced: (code: number) => void = () => {};
  const signalled = new Promise<TerminationSignal>((resolve) => (resolveSignal = resolve));
  const forced = new Promise<number>((resolve) => (resolveForced = resolve));
  const unsubscribe =
    io.onSignal?.((signal) => {
      if (firstSignal === null) {
        firstSignal = signal;
        resolveSignal(signal);
      } else {
        io.stderr(`patchbay: ${signal} again, exiting without waiting for calls\n`);
        resolveForced(1);
      }
    }) ?? (() => {});

  try {
    let server: RunningPatchbay;
    try {
      const mod = await (io.loadServer ?? defaultLoadServer)();
      server = await mod.startServer(config);
    } catch (err) {
      io.stderr(`patchbay: failed to start: ${(err as Error).message}\n`);
      return 1;
    }
    const signal = await signalled;
    io.stderr(`patchbay: ${signal} received, draining calls for up to ${config.drainGraceMs / 1000} s (repeat to exit now)\n`);
    const stopped = server.stop(signal).then(
      () => 0,
      (err: unknown) => {
        io.stderr(`patchbay: error while stopping: ${(err as Error).message}\n`);
        return 1;
      },
    );
    return await Promise.race([stopped, forced]);
  } finally {
    unsubscribe();
  }
}

const COMMANDS: Readonly<Record<string, Command>> = {
  start: {
    summary: 'run the server: SIP, media, webhooks, REST API',
    usage: 'patchbay start [settings]',
    help: () => `Usage: patchbay start [settings]\n\nRuns Patchbay until SIGTERM/SIGINT, then drains live calls.\n\n${configHelp()}`,
    run: runStart,
  },
  calls: callsCommand,
  numbers: numbersCommand,
  carriers: carriersCommand,
  users: usersCommand,
};

function generalHelp(): string {
  const last = 'patchbay --help | --version';
  const width = Math.max(last.length, ...Object.values(COMMANDS).map((c) => c.usage.length));
  const rows = Object.values(COMMANDS).map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`);
  return [
    `Patchbay ${packageVersion()}: programmable voice, SIP calls driven by webhooks.`,
    '',
    'Usage:',
    ...rows,
    `  ${last.padEnd(width)}  this text | the version`,
    '',
    "Run 'patchbay <command> --help' for a command's options.",
    '',
  ].join('\n');
}

export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const line = parseCommandLine(argv);
  if (line.version && !line.help) {
    io.stdout(`${packageVersion()}\n`);
    return 0;
  }
  if (line.misplacedOption && !line.help) {
    io.stderr(`patchbay: "${line.misplacedOption}" must come after a command, e.g. patchbay start ${line.misplacedOption} …\n`);
    return 2;
  }
  const command = line.command === null ? null : COMMANDS[line.command];
  if (line.command !== null && !command) {
    io.stderr(`patchbay: unknown command "${line.command}"\n\n${generalHelp()}`);
    return 2;
  }
  if (line.help) {
    io.stdout(command ? command.help() : generalHelp());
    return 0;
  }
  if (!command) {
    io.stderr(generalHelp());
    return 2;
  }
  return command.run(line.args, io);
}
