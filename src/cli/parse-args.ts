/**
 * Splits a `patchbay` command line into the command and its own arguments, and picks out the
 * global `--help` / `--version`. Each command parses the rest itself (`start` hands it to
 * loadConfig), so this layer knows no command's flags.
 */

export interface CommandLine {
  /** e.g. 'start'; null when none was given. */
  command: string | null;
  /** The command's arguments, with --help/-h removed. */
  args: string[];
  help: boolean;
  version: boolean;
  /** An option given before any command that is not a global one (e.g. `patchbay --sip-port 1 start`). */
  misplacedOption: string | null;
}

const HELP = new Set(['--help', '-h']);
const VERSION = new Set(['--version', '-v', '-V']);

export function parseCommandLine(argv: readonly string[]): CommandLine {
  const out: CommandLine = { command: null, args: [], help: false, version: false, misplacedOption: null };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i]!;
    if (HELP.has(a)) out.help = true;
    else if (VERSION.has(a)) out.version = true;
    else if (a.startsWith('-')) {
      out.misplacedOption ??= a;
    } else break;
  }
  let command: string | null = argv[i] ?? null;
  i++;
  // `patchbay help start` = `patchbay start --help`; `patchbay version` = `patchbay --version`.
  if (command === 'help') {
    out.help = true;
    command = argv[i] ?? null;
    i++;
  } else if (command === 'version') {
    out.version = true;
    command = null;
  }
  out.command = command;
  // After `--`, everything belongs to the command verbatim.
  const rest = argv.slice(i);
  const dashdash = rest.indexOf('--');
  const head = dashdash < 0 ? rest : rest.slice(0, dashdash);
  const tail = dashdash < 0 ? [] : rest.slice(dashdash);
  for (const a of head) {
    if (HELP.has(a)) out.help = true;
    else out.args.push(a);
  }
  out.args.push(...tail);
  return out;
}
