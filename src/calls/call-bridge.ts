/**
 * Two answered calls talking to each other: their RTP relayed both ways (MediaBridge: each leg
 * keeps its own clock-paced cadence, codecs transcoded through PCM), out-of-band DTMF (RFC 4733,
 * INFO) regenerated on the other leg — in-band tones already travel in the audio — the caller's `*`
 * ending the bridge when hangupOnStar is set, and a `<Dial record>` fed tick by tick.
 * Resolves when either call ends, on `*`, or when the signal aborts (REST redirect of the caller).
 */
import { MediaBridge } from '../media/media-bridge.js';
import type { Call } from './call.js';
import type { DialRecording } from './dial-recording.js';

export type BridgeEnd = 'caller-hangup' | 'callee-hangup' | 'hangup-on-star' | 'aborted';

export interface BridgeOptions {
  hangupOnStar: boolean;
  recording: DialRecording | null;
}

export async function bridgeCalls(caller: Call, callee: Call, opts: BridgeOptions, signal: AbortSignal): Promise<BridgeEnd> {
  const a = caller.rtp;
  const b = callee.rtp;
  if (caller.ended || !a) return 'caller-hangup';
  if (callee.ended || !b) return 'callee-hangup';
  if (signal.aborted) return 'aborted';

  const media = new MediaBridge(a, b);
  const cleanups: (() => void)[] = [() => media.stop()];
  let end!: (how: BridgeEnd) => void;
  const ended = new Promise<BridgeEnd>((resolve) => (end = resolve));

  if (opts.recording) {
    const rec = opts.recording;
    rec.stopRinging();
    // sentToB is what the callee heard: the caller's voice; sentToA is what the caller heard.
    cleanups.push(media.onFrames((_tick, sentToA, sentToB) => rec.write(sentToB, sentToA)));
  }
  const relayDigit = (to: Call, digit: string): void => {
    void to.sendDigits(digit, signal).catch((err: unknown) => {
      if (!to.ended && !signal.aborted) to.note('error', { message: `relaying DTMF ${digit}: ${(err as Error).message}` });
    });
  };
  cleanups.push(
    caller.onDtmf((digit, source) => {
      if (opts.hangupOnStar && digit === '*') return end('hangup-on-star');
      if (source !== 'inband') relayDigit(callee, digit);
    }),
    callee.onDtmf((digit, source) => {
      if (source !== 'inband') relayDigit(caller, digit);
    }),
  );
  // The caller's hangup aborts the verb's signal too, and before whenEnded() settles: name it truly.
  const onAbort = (): void => end(caller.ended ? 'caller-hangup' : 'aborted');
  signal.addEventListener('abort', onAbort, { once: true });
  cleanups.push(() => signal.removeEventListener('abort', onAbort));
  void caller.whenEnded().then(() => end('caller-hangup'));
  void callee.whenEnded().then(() => end('callee-hangup'));

  caller.note('bridge.start', { with: callee.sid });
  callee.note('bridge.start', { with: caller.sid });
  try {
    return await ended;
  } finally {
    const stats = media.stats();
    for (const c of cleanups) c();
    caller.note('bridge.end', { with: callee.sid, toCallee: stats.aToB, toCaller: stats.bToA });
  }
}
