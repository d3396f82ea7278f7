/**
 * `<Record>`: records the caller to a WAV file, with Twilio's semantics:
 * - a beep first (playBeep), then the caller's audio until `timeout` seconds of silence, a key of
 *   `finishOnKey`, `maxLength`, or hang-up (the file is complete and playable in every case);
 * - trim-silence drops the silence before the first and after the last speech;
 * - the action gets RecordingUrl, RecordingDuration and Digits (the key, or `hangup`); after a hang-up
 *   it is still requested, in the background, so the app learns about its recording;
 * - nothing recorded: no action request, the document goes on with the next verb;
 * - recordingStatusCallback and transcribeCallback are background requests.
 */
import type { CallControl, RecordingHandle, RecordingOutcome } from './call-control.js';
import type { RecordVerb } from './verb-model.js';
import { VerbErrorCode } from './verb-errors.js';
import { resolveUrl, type VerbContext } from './prompt-executors.js';
import type { VerbOutcome } from './verb-executor.js';
import { VoiceActivityDetector } from '../media/voice-activity-detector.js';
import { beep } from '../media/beep.js';
import { newSid } from '../ids.js';
import { performance } from 'node:perf_hooks';

type EndReason = 'timeout' | 'finish-key' | 'max-length' | 'hangup';

/** Audio kept before the first detected speech, so trimming never clips the first syllable. */
const PRE_ROLL_FRAMES = 15;
/** 20 ms of silence, written for time that passed without packets. */
const SILENCE_FRAME = new Int16Array(160);
/** Packets may arrive this late (jitter, bursty senders) before the gap counts as missing audio. */
const MAX_LATE_SAMPLES = 1600;
/** Twilio transcribes recordings of 2 to 120 seconds. */
const MAX_TRANSCRIBED_SECONDS = 120;

export async function record(verb: RecordVerb, call: CallControl, ctx: VerbContext): Promise<VerbOutcome> {
  await call.answer();
  if (verb.playBeep) await call.play(beep(), ctx.signal);
  const recording = await call.startRecording('RecordVerb');
  const statusUrl = verb.recordingStatusCallback ? resolveUrl(verb.recordingStatusCallback, ctx.documentUrl) : null;
  const sendStatus = (status: string, extra: Record<string, string> = {}): void => {
    if (!statusUrl) return;
    call.sendCallback(statusUrl, verb.recordingStatusCallbackMethod, {
      RecordingSid: recording.sid,
      RecordingUrl: recording.url,
      RecordingStatus: status,
      RecordingChannels: '1',
      RecordingStartTime: recording.startTime.toUTCString(),
      RecordingSource: 'RecordVerb',
      RecordingTrack: 'inbound',
      ...extra,
    });
  };
  if (verb.recordingStatusCallbackEvent.includes('in-progress')) sendStatus('in-progress');

  const keep: Int16Array[] | null = verb.transcribe ? [] : null;
  const { reason, digit } = await captureAudio(verb, call, ctx.signal, (frame) => {
    recording.write(frame);
    keep?.push(frame);
  });
  const outcome = await recording.finish();
  call.note('record.result', { recordingSid: recording.sid, reason, status: outcome.status, durationSeconds: outcome.durationSeconds });

  if (outcome.status === 'completed' && verb.recordingStatusCallbackEvent.includes('completed')) {
    sendStatus('completed', { RecordingDuration: String(outcome.durationSeconds) });
  } else if (outcome.status === 'absent' && verb.recordingStatusCallbackEvent.includes('absent')) {
    sendStatus('absent', { RecordingDuration: '0' });
  } else if (outcome.status === 'failed') {
    sendStatus('failed', { ErrorCode: String(VerbErrorCode.RecordingFailed) });
  }
  if (keep && outcome.status === 'completed') void transcribeInBackground(verb, call, ctx, recording, outcome, keep);

  const target = verb.action !== null ? resolveUrl(verb.action, ctx.documentUrl) : ctx.documentUrl;
  const params: Record<string, string> = {
    RecordingUrl: recording.url,
    RecordingDuration: String(outcome.durationSeconds),
    RecordingSid: recording.sid,
    Digits: reason === 'hangup' ? 'hangup' : (digit ?? ''),
  };
  if (reason === 'hangup') {
    // The call is over, but the app still wants its voicemail: tell it in the background.
    if (target !== null && outcome.status === 'completed') call.sendCallback(target, verb.method, params);
    throw ctx.signal.reason;
  }
  if (outcome.status !== 'completed') return { kind: 'next' };
  if (target === null) {
    call.note('verb.warning', { verb: 'record', errorCode: VerbErrorCode.InvalidUrl, message: 'Record in an inline document needs an absolute action URL' });
    return { kind: 'next' };
  }
  return { kind: 'redirect', url: target, method: verb.method, params };
}

/** Feeds the caller's audio to `write` until the recording should end; never rejects. */
function captureAudio(verb: RecordVerb, call: CallControl, signal: AbortSignal, write: (frame: Int16Array) => void): Promise<{ reason: EndReason; digit?: string }> {
  return new Promise((resolve) => {
    const vad = new VoiceActivityDetector();
    const trim = verb.trim === 'trim-silence';
    let spoke = false;
    const preRoll: Int16Array[] = [];
    const pendingSilence: Int16Array[] = [];
    let silenceTimer: NodeJS.Timeout | null = null;
    const armSilence = (): void => {
      if (silenceTimer) clearTimeout(silenceTimer);
      if (verb.timeout > 0) silenceTimer = setTimeout(() => end('timeout'), verb.timeout * 1000);
    };
    const maxTimer = setTimeout(() => end('max-length'), verb.maxLength * 1000);
    const process = (frame: Int16Array): void => {
      vad.process(frame);
      if (vad.speaking) {
        armSilence();
        if (!spoke) {
          spoke = true;
          for (const f of preRoll.splice(0)) write(f);
        }
        for (const f of pendingSilence.splice(0)) write(f);
        write(frame);
      } else if (!trim) {
        write(frame);
      } else if (!spoke) {
        preRoll.push(frame);
        if (preRoll.length > PRE_ROLL_FRAMES) preRoll.shift();
      } else {
        // Silence after speech: written only if the caller speaks again (trailing silence is trimmed).
        pendingSilence.push(frame);
      }
    };
    // The recording follows the call's timeline: time without packets (a muted or silence-suppressing
    // phone, a late start) is recorded as silence, so durations are real durations.
    const startedAt = performance.now();
    let samples = 0;
    const catchUp = (until: number): void => {
      while (until - samples >= SILENCE_FRAME.length) {
        process(SILENCE_FRAME);
        samples += SILENCE_FRAME.length;
      }
    };
    const stopAudio = call.onAudio((frame) => {
      const due = Math.min(verb.maxLength * 8000, Math.round(((performance.now() - startedAt) * 8000) / 1000));
      catchUp(due - frame.length - MAX_LATE_SAMPLES);
      process(frame);
      samples += frame.length;
    });
    const stopDigits = call.onDigit((d) => {
      if (verb.finishOnKey.includes(d)) end('finish-key', d);
    });
    const onAbort = (): void => end('hangup');
    signal.addEventListener('abort', onAbort, { once: true });
    armSilence();
    let done = false;
    function end(reason: EndReason, digit?: string): void {
      if (done) return;
      done = true;
      if (silenceTimer) clearTimeout(silenceTimer);
      clearTimeout(maxTimer);
      stopAudio();
      stopDigits();
      // A recording cut by hang-up or maxLength lasts until that moment, even through a gap in packets.
      if (reason === 'hangup' || reason === 'max-length') catchUp(Math.min(verb.maxLength * 8000, Math.round(((performance.now() - startedAt) * 8000) / 1000)));
      signal.removeEventListener('abort', onAbort);
      resolve(digit !== undefined ? { reason, digit } : { reason });
    }
    if (signal.aborted) end('hangup');
  });
}

async function transcribeInBackground(verb: RecordVerb, call: CallControl, ctx: VerbContext, recording: RecordingHandle, outcome: RecordingOutcome, frames: Int16Array[]): Promise<void> {
  const url = verb.transcribeCallback ? resolveUrl(verb.transcribeCallback, ctx.documentUrl) : null;
  const transcriptionSid = newSid('TR');
  let text = '';
  let status = 'completed';
  if (outcome.durationSeconds > MAX_TRANSCRIBED_SECONDS) {
    status = 'failed';
  } else {
    const samples = new Int16Array(frames.reduce((n, f) => n + f.length, 0));
    let at = 0;
    for (const f of frames) {
      samples.set(f, at);
      at += f.length;
    }
    try {
      text = (await call.transcribe(samples, null))?.transcript ?? '';
    } catch (err) {
      status = 'failed';
      call.note('error', { code: VerbErrorCode.SpeechRecognitionFailed, message: `transcription failed: ${(err as Error).message}` });
    }
  }
  call.note('record.transcription', { recordingSid: recording.sid, transcriptionSid, status, text });
  if (!url) return;
  call.sendCallback(url, 'POST', {
    TranscriptionSid: transcriptionSid,
    TranscriptionText: text,
    TranscriptionStatus: status,
    TranscriptionUrl: `${recording.url}/Transcriptions/${transcriptionSid}`,
    RecordingSid: recording.sid,
    RecordingUrl: recording.url,
  });
}
