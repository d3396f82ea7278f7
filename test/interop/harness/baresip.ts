/**
 * Drives baresip (Debian baresip-core 1.0) headless as a real SIP phone, two ways:
 * - `baresipCall`: a caller that dials one URI and exits; a WAV file is its microphone and the
 *   `sndfile` module dumps what it hears to a WAV. baresip 1.0 hangs up when the microphone file
 *   ends, so the mic length sets the call length.
 * - `BaresipPhone`: a long-running phone registered as a SIP user (digest, MD5 only: libre 1.x
 *   aborts on a SHA-256 challenge) that auto-answers incoming calls (account `answermode=auto`),
 *   with the same WAV microphone and dump; it unregisters when stopped (SIGTERM).
 * Every output line is kept with the time the test saw it, so tests can time call events
 * (established, closed) from outside Patchbay.
 * `transport: 'tls'` makes either one talk SIP over TLS (libre's TLS in baresip-core): the caller
 * dials a `;transport=tls` target, the phone registers with a `;transport=tls` AOR. `tlsCaFile`
 * is given to baresip as `sip_cafile` (the CA it trusts for the server).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';

/** One line of baresip's output and when the test saw it (`Date.now()`). */
export interface BaresipLine {
  at: number;
  text: string;
}

export interface BaresipCallResult {
  exitCode: number | null;
  log: string;
  /** The output split in lines, each with the time it was seen. */
  lines: BaresipLine[];
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

/** Collects a child's stdout and stderr as timestamped lines (a partial last line waits for its end). */
class LineLog {
  readonly lines: BaresipLine[] = [];
  private text = '';
  private partial = '';

  attach(child: ChildProcess): void {
    const onData = (d: Buffer): void => {
      const s = d.toString();
      this.text += s;
      const parts = (this.partial + s).split('\n');
      this.partial = parts.pop() ?? '';
      const at = Date.now();
      for (const text of parts) this.lines.push({ at, text: text.replace(/\r$/, '') });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.on('close', () => {
      if (this.partial) this.lines.push({ at: Date.now(), text: this.partial });
      this.partial = '';
    });
  }

  get log(): string {
    return this.text;
  }
}

/** SIP transport of a baresip: UDP (default) or TLS. */
export type BaresipTransport = 'udp' | 'tls';

/** The `config` file: UDP (or UDP and TLS) on loopback, G.711, a WAV mic, what is heard dumped to `dir`. */
function configText(opts: { port: number; dir: string; micWav: string; rtpPorts: string; mediaenc?: MediaEncryption; transport?: BaresipTransport; tlsCaFile?: string }): string {
  return [
    'poll_method poll',
    `sip_listen 127.0.0.1:${opts.port}`,
    opts.transport === 'tls' ? 'sip_transports udp,tls' : 'sip_transports udp',
    ...(opts.tlsCaFile ? [`sip_cafile ${opts.tlsCaFile}`] : []),
    // Without it baresip puts the machine's external address in its SDP.
    'net_interface 127.0.0.1',
    `audio_source aufile,${opts.micWav}`,
    'audio_player sndfile,x',
    'audio_alert aufile,/dev/null',
    `audio_path ${opts.dir}`,
    `snd_path ${opts.dir}`,
    `rtp_ports ${opts.rtpPorts}`,
    'module_path /usr/lib/baresip/modules',
    'module g711.so',
    'module aufile.so',
    'module sndfile.so',
    // SDES-SRTP (RFC 4568): the account's `mediaenc` picks srtp (best effort) or srtp-mand.
    ...(opts.mediaenc ? ['module srtp.so'] : []),
    'module_app account.so',
    'module_app menu.so',
    '',
  ].join('\n');
}

/**
 * baresip's SDES media encryption: `srtp` offers RTP/AVP with a=crypto (best effort), `srtp-mand`
 * RTP/SAVP and refuses plain RTP.
 */
export type MediaEncryption = 'srtp' | 'srtp-mand';

const mediaencParam = (m: MediaEncryption | undefined): string[] => (m ? [`mediaenc=${m}`] : []);

/** The decoder-side dump (`dump-*-dec.wav`) sndfile wrote in `dir`, if any. */
function heardIn(dir: string): string | null {
  const heard = readdirSync(dir).find((f) => f.endsWith('-dec.wav'));
  return heard ? join(dir, heard) : null;
}

/** baresip's line when a call is over, whoever ended it. */
const CALL_TERMINATED = /Call with \S+ terminated \(duration/;

/**
 * Dials `target` and resolves when baresip exits: after `seconds` (`-t`), or — with
 * `quitWhenCallEnds` — as soon as the call is over (SIGTERM), so a test need not wait out `-t`.
 */
export async function baresipCall(opts: {
  target: string;
  micWav: string;
  seconds: number;
  rtpPorts?: string;
  quitWhenCallEnds?: boolean;
  mediaenc?: MediaEncryption;
  transport?: BaresipTransport;
  tlsCaFile?: string;
}): Promise<BaresipCallResult> {
  const dir = mkdtempSync(join(tmpdir(), 'baresip-'));
  const conf = join(dir, 'conf');
  mkdirSync(conf);
  const port = await freeUdpishPort();
  writeFileSync(join(conf, 'config'), configText({ port, dir, micWav: opts.micWav, rtpPorts: opts.rtpPorts ?? '40000-40999', mediaenc: opts.mediaenc, transport: opts.transport, tlsCaFile: opts.tlsCaFile }));
  writeFileSync(join(conf, 'accounts'), `<sip:tester@127.0.0.1:${port}>;${['regint=0', 'audio_codecs=pcmu', ...mediaencParam(opts.mediaenc)].join(';')}\n`);
  const child = spawn('baresip', ['-f', conf, '-e', `/dial ${opts.target}`, '-t', String(opts.seconds)], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  const log = new LineLog();
  log.attach(child);
  const killer = setTimeout(() => child.kill('SIGKILL'), (opts.seconds + 15) * 1000);
  if (opts.quitWhenCallEnds) {
    const watch = setInterval(() => {
      if (!log.lines.some((l) => CALL_TERMINATED.test(l.text))) return;
      clearInterval(watch);
      child.kill('SIGTERM');
    }, 50);
    child.on('close', () => clearInterval(watch));
  }
  const exitCode = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  clearTimeout(killer);
  return { exitCode, log: log.log, lines: log.lines, heardWav: heardIn(dir), dir };
}

export interface BaresipPhoneOptions {
  /** Patchbay's SIP port on 127.0.0.1 (UDP, or its TLS port with `transport: 'tls'`): the registrar and the domain of the account. */
  registrar: number;
  /** SIP transport to the registrar (default udp). */
  transport?: BaresipTransport;
  /** CA file baresip trusts for the registrar's TLS certificate (`sip_cafile`). */
  tlsCaFile?: string;
  username: string;
  password: string;
  /**
   * 8 kHz mono WAV played as the microphone in each call; baresip hangs up when it ends. Default
   * /dev/null, which ends a call at once: fine for a phone that only registers.
   */
  micWav?: string;
  /** Answer incoming calls at once (account `answermode=auto`); default true. */
  autoAnswer?: boolean;
  /** Registration interval in seconds (account `regint`); default 60. */
  regint?: number;
  rtpPorts?: string;
  /** SDES-SRTP for the phone's calls (module srtp.so, account `mediaenc`); default none. */
  mediaenc?: MediaEncryption;
}

/** A registered baresip that answers calls, running until `stop()` (which unregisters, Expires 0). */
export class BaresipPhone {
  readonly dir = mkdtempSync(join(tmpdir(), 'baresip-phone-'));
  private readonly out = new LineLog();
  private child: ChildProcess | null = null;
  private closed: Promise<number | null> = Promise.resolve(null);

  constructor(private readonly opts: BaresipPhoneOptions) {}

  get log(): string {
    return this.out.log;
  }

  get lines(): readonly BaresipLine[] {
    return this.out.lines;
  }

  async start(): Promise<this> {
    const { opts } = this;
    const conf = join(this.dir, 'conf');
    mkdirSync(conf);
    const port = await freeUdpishPort();
    writeFileSync(
      join(conf, 'config'),
      configText({ port, dir: this.dir, micWav: opts.micWav ?? '/dev/null', rtpPorts: opts.rtpPorts ?? '41000-41999', mediaenc: opts.mediaenc, transport: opts.transport, tlsCaFile: opts.tlsCaFile }),
    );
    const params = [`auth_pass=${opts.password}`, `regint=${opts.regint ?? 60}`, 'audio_codecs=pcmu,pcma', ...(opts.autoAnswer === false ? [] : ['answermode=auto']), ...mediaencParam(opts.mediaenc)];
    const aor = `sip:${opts.username}@127.0.0.1:${opts.registrar}${opts.transport === 'tls' ? ';transport=tls' : ''}`;
    writeFileSync(join(conf, 'accounts'), `<${aor}>;${params.join(';')}\n`);
    // stdin stays open: baresip reads UI commands from it.
    const child = spawn('baresip', ['-f', conf], { cwd: this.dir, stdio: ['pipe', 'pipe', 'pipe'] });
    this.out.attach(child);
    this.closed = new Promise((resolve) => child.on('close', (code) => resolve(code)));
    this.child = child;
    return this;
  }

  /** The first output line matching `re` (already seen or still to come); rejects after `timeoutMs`. */
  async waitForLine(re: RegExp, timeoutMs: number, what: string): Promise<BaresipLine> {
    const start = Date.now();
    for (;;) {
      const hit = this.out.lines.find((l) => re.test(l.text));
      if (hit) return hit;
      if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for baresip ${what}; log:\n${this.out.log.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** How the registration went: `200 OK`, or the failure's status line (`403 Forbidden`...). */
  async registration(timeoutMs = 15000): Promise<string> {
    const line = await this.waitForLine(/\b(200 OK|[3-6]\d\d [A-Z][A-Za-z ]+)|Register: /, timeoutMs, 'to register');
    return /200 OK/.test(line.text) ? '200 OK' : line.text.trim();
  }

  /** What the phone heard in its call (the sndfile decoder dump), or null before any call audio. */
  heardWav(): string | null {
    return heardIn(this.dir);
  }

  /** True once the process has exited. */
  get exited(): boolean {
    return this.child === null || this.child.exitCode !== null || this.child.signalCode !== null;
  }

  /** Stops baresip (SIGTERM: it unregisters and ends any call first), SIGKILL after 10 s. Idempotent. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    if (!this.exited) child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 10000);
    await this.closed;
    clearTimeout(killer);
  }

  /** `stop()`, then removes the working directory (and the WAV dump). */
  async dispose(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
