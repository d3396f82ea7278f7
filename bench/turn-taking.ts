/**
 * Turn-taking benchmark (not a test): how long the caller waits at each turn of a speech <Gather>
 * with the embedded engines (pocketsphinx recognizes, eSpeak NG speaks).
 *  1. caller stops speaking → the action webhook reaches the app (end-pointing + recognition);
 *  2. app response sent → first audible RTP packet of the reply at the caller.
 * Callers are Patchbay's own SIP UAC and RTP sessions in this process; Patchbay runs as a child
 * process, as in production. Reported at 1 call at a time and at N concurrent gathers.
 * Usage: node --import tsx bench/turn-taking.ts [--calls 10] [--concurrency 100]
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { AppServer } from '../test/interop/harness/app-server.js';
import { spawnPatchbay } from '../test/interop/harness/child-patchbay.js';
import { SipStack } from '../src/sip/sip-stack.js';
import { createOffer, readAnswer } from '../src/sip/offer-answer.js';
import { RtpSession } from '../src/media/rtp-session.js';
import { MediaClock } from '../src/media/media-clock.js';
import { PortAllocator } from '../src/media/port-allocator.js';
import { decodeWav } from '../src/media/wav.js';

const args = process.argv.slice(2);
const arg = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const SEQUENTIAL_CALLS = arg('--calls', 10);
const CONCURRENT = arg('--concurrency', 100);

const WORDS = ['sales-us', 'support-us', 'billing-gb', 'operator-us'];
const SPOKEN = fileURLToPath(new URL('../test/fixtures/speech/', import.meta.url));
const audio = new Map(WORDS.map((w) => [w, Int16Array.from(decodeWav(readFileSync(join(SPOKEN, `${w}.wav`))).samples[0]!, (v) => Math.round(v * 32767))]));

interface Turn {
  word: string;
  heard: string | null;
  /** Caller's last speech sample sent → action request received by the app (ms). */
  endToAction: number | null;
  /** App response sent → first audible reply packet at the caller (ms). */
  responseToAudio: number | null;
}

const pending = new Map<string, { actionAt?: number; respondedAt?: number; heard?: string }>();

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function main(): Promise<void> {
  const app = await new AppServer().start();
  app.route('/voice', (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/xml' });
    res.end('<Response><Gather input="speech" speechTimeout="auto" hints="sales, support, billing, operator" action="/heard"><Say>Which department?</Say></Gather><Hangup/></Response>');
  });
  app.route('/heard', (req, res) => {
    const entry = pending.get(req.params.SipCallId ?? '');
    if (entry) {
      entry.actionAt = performance.now();
      entry.heard = req.params.SpeechResult ?? '';
    }
    res.writeHead(200, { 'content-type': 'text/xml' });
    if (entry) entry.respondedAt = performance.now();
    res.end('<Response><Say>Okay, connecting you now.</Say><Pause length="1"/><Hangup/></Response>');
  });
  const dataDir = mkdtempSync(join(tmpdir(), 'pb-turns-'));
  const pb = await spawnPatchbay(dataDir, { PATCHBAY_VOICE_URL: app.url('/voice'), PATCHBAY_LOG_LEVEL: 'warn', PATCHBAY_RTP_PORTS: '20000-29999' });
  const stack = new SipStack({ host: '127.0.0.1', port: 0, publicHost: '127.0.0.1', userAgent: 'turn-bench' });
  await stack.start();
  const clock = new MediaClock({ precisionMarginMs: 2 });
  clock.start();
  const ports = new PortAllocator(40000, 49999);

  async function oneCall(word: string): Promise<Turn> {
    const rtp = await RtpSession.open({ bindAddress: '127.0.0.1', ports, clock });
    const offer = createOffer({ address: '127.0.0.1', port: rtp.localPort, sessionId: '1', sessionVersion: 1 });
    const invite = stack.invite({ uri: `sip:bench@127.0.0.1:${pb.sipPort}`, from: 'sip:caller@127.0.0.1', to: `sip:bench@127.0.0.1:${pb.sipPort}`, body: Buffer.from(offer), contentType: 'application/sdp' });
    const callId = invite.request.headers.get('call-id') ?? '';
    const entry: { actionAt?: number; respondedAt?: number; heard?: string } = {};
    pending.set(callId, entry);
    const outcome = await invite.done;
    const turn: Turn = { word, heard: null, endToAction: null, responseToAudio: null };
    if (outcome.kind !== 'answered') {
      await rtp.close();
      return turn;
    }
    const negotiated = readAnswer(outcome.response.body.toString('latin1'));
    if (negotiated) rtp.configure(negotiated);
    let firstReplyAt: number | null = null;
    rtp.on('audio', (pcm) => {
      if (entry.respondedAt === undefined || firstReplyAt !== null) return;
      let energy = 0;
      for (const s of pcm) energy += Math.abs(s);
      if (energy / pcm.length > 200) firstReplyAt = performance.now();
    });
    const never = new AbortController().signal;
    await rtp.output.play(new Int16Array(8000), never); // 1 s: the prompt starts
    const clip = audio.get(word)!;
    await rtp.output.play(clip, never);
    // The clip ends with padding: the caller stopped speaking at its last loud sample.
    let last = clip.length - 1;
    while (last > 0 && Math.abs(clip[last]!) < 300) last--;
    const speechEnd = performance.now() - ((clip.length - 1 - last) * 1000) / 8000;
    void rtp.output.play(new Int16Array(8000 * 8), never);
    const ended = new Promise<void>((resolve) => outcome.dialog.once('terminated', () => resolve()));
    await Promise.race([ended, new Promise((r) => setTimeout(r, 15000))]);
    await rtp.close();
    pending.delete(callId);
    turn.heard = entry.heard ?? null;
    if (entry.actionAt !== undefined) turn.endToAction = entry.actionAt - speechEnd;
    if (firstReplyAt !== null && entry.respondedAt !== undefined) turn.responseToAudio = firstReplyAt - entry.respondedAt;
    return turn;
  }

  const rows: string[] = [];
  const report = (label: string, turns: Turn[]): void => {
    const a = turns.map((t) => t.endToAction).filter((x): x is number => x !== null);
    const b = turns.map((t) => t.responseToAudio).filter((x): x is number => x !== null);
    const right = turns.filter((t) => t.heard === t.word.replace(/-(us|gb)$/, '')).length;
    const fmt = (xs: number[], p: number): string => (xs.length ? percentile(xs, p).toFixed(0) : '-');
    rows.push(`| ${label} | ${turns.length} | ${right}/${turns.length} | ${fmt(a, 50)} | ${fmt(a, 99)} | ${fmt(b, 50)} | ${fmt(b, 99)} |`);
  };

  // Warm-up: the first synthesis of each prompt fills the speech cache.
  await oneCall(WORDS[0]!);
  const sequential: Turn[] = [];
  for (let i = 0; i < SEQUENTIAL_CALLS; i++) sequential.push(await oneCall(WORDS[i % WORDS.length]!));
  report('1 at a time', sequential);
  const concurrent = await Promise.all(
    Array.from({ length: CONCURRENT }, (_, i) => new Promise<Turn>((resolve) => setTimeout(() => resolve(oneCall(WORDS[i % WORDS.length]!)), i * 20))),
  );
  report(`${CONCURRENT} concurrent`, concurrent);

  console.log(`\nTurn-taking with the embedded engines (${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, ${new Date().toISOString().slice(0, 10)})\n`);
  console.log('| gathers | calls | words right | speech end → action p50 (ms) | p99 | response → first reply audio p50 (ms) | p99 |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) console.log(r);

  clock.stop();
  await stack.stop();
  pb.proc.kill('SIGTERM');
  await pb.exited;
  await app.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
