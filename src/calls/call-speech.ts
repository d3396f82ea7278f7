/**
 * Speech recognition for a call: picks the engine for a request (the account default, or the one
 * named by `speechModel`) and opens a stream on the call's 8 kHz audio, or transcribes finished audio.
 */
import type { RecognitionRequest } from '../verbs/call-control.js';
import type { RecognizerCatalog } from '../speech/recognizer-catalog.js';
import type { RecognitionEvents, RecognitionResult, RecognitionStream } from '../speech/speech-recognizer.js';

const CALL_RATE = 8000;
const FRAME = 160;

export function openRecognition(
  catalog: RecognizerCatalog,
  accountSid: string,
  request: RecognitionRequest,
  events: RecognitionEvents,
  signal: AbortSignal,
  warn: (message: string) => void,
): Promise<RecognitionStream> {
  const choice = catalog.choose(request.speechModel, accountSid);
  if (choice.substitutedFor) warn(`speech model "${choice.substitutedFor}" is not configured; using ${choice.recognizer.name}`);
  return choice.recognizer.open(
    {
      language: request.language,
      hints: request.hints,
      sampleRate: CALL_RATE,
      ...(choice.model !== undefined ? { model: choice.model } : {}),
      interimResults: request.interimResults,
      profanityFilter: request.profanityFilter,
    },
    events,
    signal,
  );
}

/** Transcribes finished audio with the account's default engine, in 20 ms frames like a live call. */
export async function transcribeAudio(catalog: RecognizerCatalog, accountSid: string, samples: Int16Array, language: string): Promise<RecognitionResult | null> {
  const { recognizer } = catalog.choose('default', accountSid);
  const stream = await recognizer.open({ language, hints: [], sampleRate: CALL_RATE, interimResults: false, profanityFilter: true }, {});
  for (let i = 0; i < samples.length; i += FRAME) stream.write(samples.subarray(i, i + FRAME));
  return stream.finish();
}
