import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommandLine } from '../../src/cli/parse-args.js';

describe('parseCommandLine', () => {
  const base = { command: null, args: [], help: false, version: false, misplacedOption: null };

  it('splits the command from its arguments', () => {
    assert.deepEqual(parseCommandLine(['start', '--sip-port', '5070', '--voice-url=http://x/']), {
      ...base, command: 'start', args: ['--sip-port', '5070', '--voice-url=http://x/'],
    });
    assert.deepEqual(parseCommandLine([]), base);
  });

  it('recognises global and per-command help and version', () => {
    assert.deepEqual(parseCommandLine(['--help']), { ...base, help: true });
    assert.deepEqual(parseCommandLine(['-h']), { ...base, help: true });
    assert.deepEqual(parseCommandLine(['--version']), { ...base, version: true });
    assert.deepEqual(parseCommandLine(['version']), { ...base, version: true });
    assert.deepEqual(parseCommandLine(['start', '--sip-port', '1', '--help']), { ...base, command: 'start', args: ['--sip-port', '1'], help: true });
    assert.deepEqual(parseCommandLine(['help', 'start']), { ...base, command: 'start', help: true });
    assert.deepEqual(parseCommandLine(['help']), { ...base, help: true });
  });

  it('reports a command option given before the command', () => {
    assert.deepEqual(parseCommandLine(['--sip-port', '5060', 'start']), { ...base, command: '5060', args: ['start'], misplacedOption: '--sip-port' });
  });

  it('passes everything after -- through untouched', () => {
    assert.deepEqual(parseCommandLine(['calls', 'list', '--', '--help']), { ...base, command: 'calls', args: ['list', '--', '--help'] });
  });
});
