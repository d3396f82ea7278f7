/**
 * `<Record>` / `{"verb":"record"}`: attribute defaults, limits and Twilio error codes (136xx),
 * following the reference's attribute table.
 */
import { DEFAULTS, type RecordingStatusEvent } from './verb-model.js';
import { VerbErrorCode } from './verb-errors.js';
import type { VerbSpec } from './verb-spec.js';
import { fail, parseBoolean, parseCount, parseMethod, parseNameList, parseString, parseUrlAttribute, where } from './attribute-parsers.js';

/** Twilio's ceiling for maxLength: 24 hours. */
const MAX_LENGTH_SECONDS = 86_400;
const MAX_SILENCE_SECONDS = 3600;
export const RECORDING_STATUS_EVENTS: readonly RecordingStatusEvent[] = ['in-progress', 'completed', 'absent'];

export const recordSpec: VerbSpec = {
  twiml: 'Record',
  json: 'record',
  attributes: [
    'action', 'method', 'timeout', 'finishOnKey', 'maxLength', 'playBeep', 'trim', 'recordingStatusCallback',
    'recordingStatusCallbackMethod', 'recordingStatusCallbackEvent', 'transcribe', 'transcribeCallback',
  ],
  children: 'none',
  build(values, _raw, ctx) {
    const label = where(ctx, 'Record');
    const timeout = parseCount(values.timeout);
    if (timeout === null || (timeout !== undefined && timeout > MAX_SILENCE_SECONDS)) {
      fail(VerbErrorCode.RecordTimeout, `${label}: timeout must be a whole number of seconds from 0 to ${MAX_SILENCE_SECONDS}, got ${JSON.stringify(values.timeout)}`);
    }
    const transcribe = parseBoolean(values.transcribe, VerbErrorCode.RecordTranscribe, label, 'transcribe') ?? false;
    const maxLength = parseCount(values.maxLength);
    if (maxLength === null || maxLength === 0 || (maxLength !== undefined && maxLength > MAX_LENGTH_SECONDS)) {
      fail(VerbErrorCode.RecordMaxLength, `${label}: maxLength must be from 1 to ${MAX_LENGTH_SECONDS} seconds, got ${JSON.stringify(values.maxLength)}`);
    }
    const finishOnKey = parseString(values.finishOnKey, VerbErrorCode.RecordFinishOnKey, label, 'finishOnKey') ?? DEFAULTS.recordFinishOnKey;
    if (!/^[0-9#*]*$/.test(finishOnKey)) fail(VerbErrorCode.RecordFinishOnKey, `${label}: finishOnKey may only contain 0-9 # *, got "${finishOnKey}"`);
    const trim = parseString(values.trim, VerbErrorCode.RecordTrim, label, 'trim') ?? 'trim-silence';
    if (trim !== 'trim-silence' && trim !== 'do-not-trim') fail(VerbErrorCode.RecordTrim, `${label}: trim must be trim-silence or do-not-trim, got "${trim}"`);
    const transcribeCallback = parseUrlAttribute(values.transcribeCallback, label, 'transcribeCallback');
    if (transcribeCallback && !transcribe) {
      ctx.warnings.push({ code: VerbErrorCode.RecordTranscribe, message: `${label}: transcribeCallback implies transcribe="true"`, verbIndex: ctx.index });
    }
    const transcribing = transcribe || transcribeCallback !== null;
    return {
      verb: 'record',
      action: parseUrlAttribute(values.action, label, 'action'),
      method: parseMethod(values.method, VerbErrorCode.RecordMethod, label),
      timeout: timeout ?? DEFAULTS.recordTimeout,
      finishOnKey,
      maxLength: maxLength ?? (transcribing ? DEFAULTS.recordMaxLengthTranscribed : DEFAULTS.recordMaxLength),
      playBeep: parseBoolean(values.playBeep, VerbErrorCode.RecordPlayBeep, label, 'playBeep') ?? true,
      trim,
      recordingStatusCallback: parseUrlAttribute(values.recordingStatusCallback, label, 'recordingStatusCallback'),
      recordingStatusCallbackMethod: parseMethod(values.recordingStatusCallbackMethod, VerbErrorCode.RecordMethod, label),
      recordingStatusCallbackEvent: parseNameList(values.recordingStatusCallbackEvent, RECORDING_STATUS_EVENTS, ['completed'], VerbErrorCode.Schema, label, 'recordingStatusCallbackEvent'),
      transcribe: transcribing,
      transcribeCallback,
    };
  },
};
