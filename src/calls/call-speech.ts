/**
 * Speech recognition for a call: picks the engine for a request (the account default, or the one
 * named by `speechModel`) and opens a stream on the call's 8 kHz audio, or transcribes finished audio.
 */
import type { RecognitionRequest } from '../verbs/call-control.js';
import type { RecognizerCatalog } from '../speech/recognizer-catalog.js';
import type { RecognitionEvents, RecognitionResult, RecognitionStream } from '../speech/speech-recognizer.js';

const CALL_RATE = 8000;
const FRAME = 160;
/** Twilio's default recognition language, when neither the request nor the account chose one. */
const DEFAULT_LANGUAGE = 'en-US';

export async function openRecognition(
  catalog: RecognizerCatalog,
  accountSid: string,
  request: RecognitionRequest,
  events: RecognitionEvents,
  signal: AbortSignal,
  warn: (message: string) => void,
): Promise<RecognitionStream> {
  const choice = await catalog.choose(request.speechModel, accountSid);
  if (choice.substitutedFor) warn(`speech model "${choice.substitutedFor}" is not configured; using ${choice.recognizer.name}`);
  return choice.recognizer.open(
    {
      language: request.language ?? choice.language ?? DEFAULT_LANGUAGE,
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

/**
 * Transcribes finished audio with the account's default engine, in 20 ms frames like a live call.
 * `language` null = the account's default language.
 */
export async function transcribeAudio(catalog: RecognizerCatalog, accountSid: string, samples: Int16Array, language: string | null): Promise<RecognitionResult | null> {
  const choice = await catalog.choose('default', accountSid);
  const stream = await choice.recognizer.open(
    { language: language ?? choice.language ?? DEFAULT_LANGUAGE, hints: [], sampleRate: CALL_RATE, interimResults: false, profanityFilter: true },
    {},
  );
  for (let i = 0; i < samples.length; i += FRAME) stream.write(samples.subarray(i, i + FRAME));
  return stream.finish();
}
