/**
 * Drives baresip (Debian baresip-core) headless as a real SIP caller: a WAV file is its microphone
 * and the `sndfile` module dumps what it hears to a WAV. baresip 1.0 hangs up when the microphone
 * file ends, so the mic length sets the call length.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';

export interface BaresipCallResult {
  exitCode: number | null;
  log: string;
  /** What baresip heard (8 kHz 16-bit mono WAV), or null if no call audio was set up. */
  heardWav: string | null;
  dir: string;
}

async function freeUdpishPort(): Promise<number> {
  // A free TCP port number is almost always free for UDP too on loopback; good enough for a test peer.
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

export async function baresipCall(opts: { target: string; micWav: string; seconds: number; rtpPorts?: string }): Promise<BaresipCallResult> {
  const dir = mkdtempSync(join(tmpdir(), 'baresip-'));
  const conf = join(dir, 'conf');
  mkdirSync(conf);
  const port = await freeUdpishPort();
  writeFileSync(
    join(conf, 'config'),
    [
      'poll_method poll',
      `sip_listen 127.0.0.1:${port}`,
      'sip_transports udp',
      'net_interface 127.0.0.1',
      `audio_source aufile,${opts.micWav}`,
      'audio_player sndfile,x',
      'audio_alert aufile,/dev/null',
      `audio_path ${dir}`,
      `snd_path ${dir}`,
      `rtp_ports ${opts.rtpPorts ?? '40000-40999'}`,
      'module_path /usr/lib/baresip/modules',
      'module g711.so',
      'module aufile.so',
      'module sndfile.so',
      'module_app account.so',
      'module_app menu.so',
      '',
    ].join('\n'),
  );
  writeFileSync(join(conf, 'accounts'), `<sip:tester@127.0.0.1:${port}>;regint=0;audio_codecs=pcmu\n`);
  const child = spawn('baresip', ['-f', conf, '-e', `/dial ${opts.target}`, '-t', String(opts.seconds)], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), (opts.seconds + 15) * 1000);
  const exitCode = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  clearTimeout(killer);
  const heard = readdirSync(dir).find((f) => f.endsWith('-dec.wav'));
  return { exitCode, log, heardWav: heard ? join(dir, heard) : null, dir };
}
