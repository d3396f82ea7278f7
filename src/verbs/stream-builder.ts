/**
 * `<Start>`, `<Stop>` and `<Connect>` with their `<Stream>` nouns (Twilio's Media Streams verbs),
 * from TwiML elements or JSON (`{"verb":"start","streams":[...]}`, `{"verb":"connect","stream":{...}}`,
 * `{"verb":"stop","streams":["name"]}`). Both formats become RawNouns first, so one parser applies
 * the same defaults and errors to each.
 */
import { VerbErrorCode } from './verb-errors.js';
import type { RawNoun, RawValue, VerbSpec } from './verb-spec.js';
import type { StreamNoun, StreamTrack } from './verb-model.js';
import { fail, parseBoolean, parseMethod, parseString, parseUrlAttribute, where } from './attribute-parsers.js';

const STREAM_ATTRIBUTES = ['url', 'name', 'track', 'statusCallback', 'statusCallbackMethod', 'format', 'sampleRate', 'speechEvents', 'clearOnSpeech'] as const;
const TRACKS: readonly StreamTrack[] = ['inbound_track', 'outbound_track', 'both_tracks'];
const RATES = [8000, 16000, 24000] as const;
/** Twilio: a parameter's name and value together stay under 500 characters. */
const MAX_PARAMETER_CHARS = 500;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A JSON stream object as the RawNoun a TwiML `<Stream>` element gives. */
function nounFromJson(value: unknown, label: string): RawNoun {
  if (!isObject(value)) fail(VerbErrorCode.Schema, `${label}: a stream must be an object`);
  const attrs: Record<string, RawValue> = {};
  const nouns: RawNoun[] = [];
  for (const [k, v] of Object.entries(value)) {
    if (k !== 'parameters') {
      attrs[k] = v as RawValue;
      continue;
    }
    // {"name": "value"} or [{"name": ..., "value": ...}] (the latter keeps duplicate-free order explicit).
    const entries = Array.isArray(v) ? v.map((p) => (isObject(p) ? [p.name, p.value] : [undefined, undefined])) : isObject(v) ? Object.entries(v) : null;
    if (!entries) fail(VerbErrorCode.Schema, `${label}: parameters must be an object or an array of {name, value}`);
    for (const [name, val] of entries) nouns.push({ tag: 'Parameter', attrs: { name: name as RawValue, value: val as RawValue }, nouns: [] });
  }
  return { tag: 'Stream', attrs, nouns };
}

function parameters(nouns: RawNoun[], label: string): [string, string][] {
  const out: [string, string][] = [];
  for (const n of nouns) {
    if (n.tag !== 'Parameter') fail(VerbErrorCode.Schema, `${label}: <${n.tag}> cannot be nested in <Stream>`);
    const name = parseString(n.attrs.name, VerbErrorCode.Schema, label, 'Parameter name');
    const raw = n.attrs.value;
    const value = typeof raw === 'number' || typeof raw === 'boolean' ? String(raw) : parseString(raw, VerbErrorCode.Schema, label, 'Parameter value') ?? '';
    if (!name) fail(VerbErrorCode.Schema, `${label}: <Parameter> needs a name`);
    if (name.length + value.length >= MAX_PARAMETER_CHARS) fail(VerbErrorCode.Schema, `${label}: parameter "${name.slice(0, 40)}" is ${name.length + value.length} characters (limit ${MAX_PARAMETER_CHARS - 1})`);
    out.push([name, value]);
  }
  return out;
}

/** A stream URL as written: ws(s) absolute, or relative to the document (its http(s) scheme maps to ws(s)). */
function streamUrl(value: RawValue, label: string): string {
  const url = parseString(value, VerbErrorCode.InvalidUrl, label, 'url');
  if (!url) fail(VerbErrorCode.InvalidUrl, `${label}: url is required`);
  if (/\s/.test(url)) fail(VerbErrorCode.InvalidUrl, `${label}: url contains whitespace`);
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url)?.[1]?.toLowerCase();
  if (scheme !== undefined && scheme !== 'ws' && scheme !== 'wss') fail(VerbErrorCode.InvalidUrl, `${label}: stream url must be ws:// or wss://, got "${url}"`);
  try {
    new URL(url, 'ws://document.invalid/');
  } catch {
    fail(VerbErrorCode.InvalidUrl, `${label}: invalid url "${url}"`);
  }
  return url;
}

export function parseStream(noun: RawNoun, label: string, bidirectional: boolean): StreamNoun {
  for (const k of Object.keys(noun.attrs)) {
    if (!(STREAM_ATTRIBUTES as readonly string[]).includes(k)) fail(VerbErrorCode.Schema, `${label}: unknown <Stream> attribute "${k}"`);
  }
  const a = noun.attrs;
  const track = (parseString(a.track, VerbErrorCode.Schema, label, 'track') || 'inbound_track') as StreamTrack;
  if (!TRACKS.includes(track)) fail(VerbErrorCode.Schema, `${label}: track must be one of ${TRACKS.join(', ')}, got "${track}"`);
  // Twilio: a bidirectional stream carries the caller's audio only (the app knows what it sent).
  if (bidirectional && track !== 'inbound_track') fail(VerbErrorCode.Schema, `${label}: <Connect><Stream> supports track="inbound_track" only`);
  const format = parseString(a.format, VerbErrorCode.Schema, label, 'format') || 'twilio';
  if (format !== 'twilio' && format !== 'l16') fail(VerbErrorCode.Schema, `${label}: format must be "twilio" or "l16", got "${format}"`);
  const rateRaw = a.sampleRate === undefined ? undefined : Number(a.sampleRate);
  const sampleRate = (rateRaw ?? 8000) as StreamNoun['sampleRate'];
  if (!(RATES as readonly number[]).includes(sampleRate)) fail(VerbErrorCode.Schema, `${label}: sampleRate must be 8000, 16000 or 24000, got ${JSON.stringify(a.sampleRate)}`);
  if (format === 'twilio' && sampleRate !== 8000) fail(VerbErrorCode.Schema, `${label}: the twilio format is 8000 Hz µ-law; use format="l16" for ${sampleRate} Hz`);
  const name = parseString(a.name, VerbErrorCode.Schema, label, 'name');
  return {
    url: streamUrl(a.url, label),
    name: name ? name : null,
    track,
    statusCallback: parseUrlAttribute(a.statusCallback, label, 'statusCallback'),
    statusCallbackMethod: parseMethod(a.statusCallbackMethod, VerbErrorCode.Schema, label),
    parameters: parameters(noun.nouns, label),
    format,
    sampleRate,
    speechEvents: parseBoolean(a.speechEvents, VerbErrorCode.Schema, label, 'speechEvents') ?? false,
    clearOnSpeech: parseBoolean(a.clearOnSpeech, VerbErrorCode.Schema, label, 'clearOnSpeech') ?? false,
  };
}

/** The `<Stream>` nouns of a verb, from TwiML children or a JSON property. */
function streamNouns(values: Record<string, RawValue>, nouns: RawNoun[] | undefined, jsonProperty: string, label: string): RawNoun[] {
  const json = values[jsonProperty];
  if (json !== undefined) return (Array.isArray(json) ? json : [json]).map((v) => nounFromJson(v, label));
  for (const n of nouns ?? []) if (n.tag !== 'Stream') fail(VerbErrorCode.Schema, `${label}: <${n.tag}> is not supported (only <Stream>)`);
  return nouns ?? [];
}

export const startSpec: VerbSpec = {
  twiml: 'Start',
  json: 'start',
  attributes: ['action', 'method'],
  children: 'nouns',
  nounProperties: ['streams'],
  build(values, raw, ctx) {
    const label = where(ctx, 'Start');
    const nouns = streamNouns(values, raw.nouns, 'streams', label);
    if (nouns.length === 0) fail(VerbErrorCode.Schema, `${label}: needs at least one <Stream>`);
    return {
      verb: 'start',
      action: parseUrlAttribute(values.action, label, 'action'),
      method: parseMethod(values.method, VerbErrorCode.Schema, label),
      streams: nouns.map((n) => parseStream(n, label, false)),
    };
  },
};

export const stopSpec: VerbSpec = {
  twiml: 'Stop',
  json: 'stop',
  attributes: [],
  children: 'nouns',
  nounProperties: ['streams'],
  build(values, raw, ctx) {
    const label = where(ctx, 'Stop');
    const json = values.streams;
    const names: string[] = [];
    if (json !== undefined) {
      for (const v of Array.isArray(json) ? json : [json]) {
        const name = typeof v === 'string' ? v : isObject(v) ? v.name : undefined;
        if (typeof name !== 'string' || name.trim() === '') fail(VerbErrorCode.Schema, `${label}: streams must name the streams to stop`);
        names.push(name.trim());
      }
    } else {
      for (const n of raw.nouns ?? []) {
        if (n.tag !== 'Stream') fail(VerbErrorCode.Schema, `${label}: <${n.tag}> is not supported (only <Stream>)`);
        const name = parseString(n.attrs.name, VerbErrorCode.Schema, label, 'name');
        if (!name) fail(VerbErrorCode.Schema, `${label}: <Stream> needs the name of the stream to stop`);
        names.push(name);
      }
    }
    if (names.length === 0) fail(VerbErrorCode.Schema, `${label}: needs at least one <Stream name>`);
    return { verb: 'stop', streams: names };
  },
};

export const connectSpec: VerbSpec = {
  twiml: 'Connect',
  json: 'connect',
  attributes: ['action', 'method'],
  children: 'nouns',
  nounProperties: ['stream'],
  build(values, raw, ctx) {
    const label = where(ctx, 'Connect');
    const nouns = streamNouns(values, raw.nouns, 'stream', label);
    if (nouns.length !== 1) fail(VerbErrorCode.Schema, `${label}: needs exactly one <Stream>, got ${nouns.length}`);
    return {
      verb: 'connect',
      action: parseUrlAttribute(values.action, label, 'action'),
      method: parseMethod(values.method, VerbErrorCode.Schema, label),
      stream: parseStream(nouns[0]!, label, true),
    };
  },
};
