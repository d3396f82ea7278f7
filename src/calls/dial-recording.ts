/**
 * A `<Dial record>` recording: what the caller said and what the caller heard (the callee, or the
 * ringback while ringing), per media tick. Dual channel puts the caller in channel 1 and the
 * callee in channel 2 (Twilio's layout); mono keeps the track asked for (`inbound` = the caller,
 * `outbound` = what the caller heard, `both` = the two mixed). Status callbacks follow the
 * `<Record>` verb's parameters with RecordingSource=DialVerb.
 */
import type { DialRequest, RecordingHandle, RecordingOutcome } from '../verbs/call-control.js';
import type { Call } from './call.js';
import type { CallRecordings } from './call-recordings.js';

const FRAME = 160;

export class DialRecording {
  private readonly stereo: Int16Array;
  private readonly mono = new Int16Array(FRAME);
  private detachRinging: (() => void) | null = null;

  private constructor(
    private readonly handle: RecordingHandle,
    private readonly parent: Call,
    private readonly request: DialRequest,
    readonly dual: boolean,
  ) {
    this.stereo = new Int16Array(FRAME * 2);
  }

  static async start(recordings: CallRecordings, parent: Call, request: DialRequest): Promise<DialRecording> {
    const dual = request.record.endsWith('-dual');
    const handle = await recordings.start(parent.info.accountSid, parent.sid, 'DialVerb', dual ? 2 : 1);
    const rec = new DialRecording(handle, parent, request, dual);
    if (request.recordingStatusCallbackEvent.includes('in-progress')) rec.sendStatus('in-progress');
    return rec;
  }

  get url(): string {
    return this.handle.url;
  }

  /**
   * Before the bridge (record-from-ringing): the caller's own leg, tick by tick — its inbound audio
   * (the latest frame received) and what it is sent (ringback).
   */
  recordRinging(): void {
    const rtp = this.parent.rtp;
    if (!rtp || this.detachRinging) return;
    const heardFromCaller = new Int16Array(FRAME);
    let fresh = false;
    const offAudio = this.parent.onAudio((pcm) => {
      heardFromCaller.fill(0);
      heardFromCaller.set(pcm.subarray(0, FRAME));
      fresh = true;
    });
    const onTick = (sent: Int16Array): void => {
      if (!fresh) heardFromCaller.fill(0);
      fresh = false;
      this.write(heardFromCaller, sent);
    };
    rtp.on('tick', onTick);
    this.detachRinging = () => {
      offAudio();
      rtp.off('tick', onTick);
    };
  }

  /** One tick of audio: what the caller said, what the caller heard. */
  write(callerSaid: Int16Array, callerHeard: Int16Array): void {
    if (this.dual) {
      for (let i = 0; i < FRAME; i++) {
        this.stereo[2 * i] = callerSaid[i] ?? 0;
        this.stereo[2 * i + 1] = callerHeard[i] ?? 0;
      }
      this.handle.write(this.stereo);
      return;
    }
    const track = this.request.recordingTrack;
    if (track === 'inbound') this.mono.set(callerSaid.subarray(0, FRAME));
    else if (track === 'outbound') this.mono.set(callerHeard.subarray(0, FRAME));
    else for (let i = 0; i < FRAME; i++) this.mono[i] = Math.max(-32768, Math.min(32767, (callerSaid[i] ?? 0) + (callerHeard[i] ?? 0)));
    this.handle.write(this.mono);
  }

  /** The bridge took over the writing. */
  stopRinging(): void {
    this.detachRinging?.();
    this.detachRinging = null;
  }

  async finish(): Promise<RecordingOutcome> {
    this.stopRinging();
    const outcome = await this.handle.finish();
    const events = this.request.recordingStatusCallbackEvent;
    if (outcome.status === 'completed' && events.includes('completed')) this.sendStatus('completed', { RecordingDuration: String(outcome.durationSeconds) });
    else if (outcome.status === 'absent' && events.includes('absent')) this.sendStatus('absent', { RecordingDuration: '0' });
    else if (outcome.status === 'failed') this.sendStatus('failed', {});
    this.parent.note('dial.recording', { recordingSid: this.handle.sid, status: outcome.status, durationSeconds: outcome.durationSeconds, channels: this.dual ? 2 : 1 });
    return outcome;
  }

  private sendStatus(status: string, extra: Record<string, string> = {}): void {
    const url = this.request.recordingStatusCallback;
    if (!url) return;
    this.parent.sendCallback(url, this.request.recordingStatusCallbackMethod, {
      RecordingSid: this.handle.sid,
      RecordingUrl: this.handle.url,
      RecordingStatus: status,
      RecordingChannels: this.dual ? '2' : '1',
      RecordingStartTime: this.handle.startTime.toUTCString(),
      RecordingSource: 'DialVerb',
      RecordingTrack: this.dual ? 'both' : this.request.recordingTrack,
      ...extra,
    });
  }
}
