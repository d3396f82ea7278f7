/**
 * The narrow view of a live call that verb executors work with. `calls/` implements it; verb
 * executors never see SIP, RTP or storage, only these operations. Every long operation takes the
 * verb's AbortSignal: hangup, a REST redirect or barge-in abort the running verb the same way.
 */
export type PlaybackOutcome = 'finished' | 'aborted' | 'cleared';

export interface CallControl {
  /** True once the call has been answered (200 OK sent). */
  readonly answered: boolean;
  /** Answers the call if not yet answered (SDP answer, media endpoint). Idempotent. */
  answer(): Promise<void>;
  /** Refuses an unanswered call: busy → 486 Busy Here, rejected → 603 Decline. */
  reject(reason: 'busy' | 'rejected'): Promise<void>;
  /** Ends the call from our side (BYE when answered, a final error response otherwise). */
  hangup(): Promise<void>;
  /** Plays 8 kHz mono PCM on the call; resolves when its last sample has been sent. */
  play(samples: Int16Array, signal: AbortSignal): Promise<PlaybackOutcome>;
  /** Speech for `text`, as 8 kHz mono PCM (cached by the speech layer). */
  synthesize(text: string, voice: string, language: string, signal: AbortSignal): Promise<Int16Array>;
  /** Audio behind a media URL (already resolved against the document URL), as 8 kHz mono PCM. */
  loadMedia(url: string, signal: AbortSignal): Promise<Int16Array>;
  /** Waits `ms` milliseconds of call time; rejects with an AbortError when the signal fires. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  /** Records a timeline event on the call (verb details, warnings). */
  note(type: string, detail: Record<string, unknown>): void;
}
