/**
 * JSON verbs reader: `[{"verb":"say","text":"Hello"},{"verb":"hangup"}]` or `{"verbs":[...]}` ->
 * the typed verb model (the same one TwiML produces).
 *
 * Each verb is checked against its branch of the published JSON Schema (json-verbs.schema.json,
 * compiled once), then built by the same code as TwiML (verb-builders.ts), so defaults and Twilio
 * error codes are identical in both formats. Unknown properties are 12200 warnings, like unknown
 * TwiML attributes; the schema forbids them so that editors flag typos.
 */
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import schema from './json-verbs.schema.json' with { type: 'json' };
import { PENDING_JSON_VERBS, type Verb, type VerbDocument, type VerbWarning } from './verb-model.js';
import { VerbDocumentError, VerbErrorCode } from './verb-errors.js';
import { SPECS_BY_JSON, buildVerb, type RawValue, type RawVerb } from './verb-builders.js';
import { readSsmlFragment } from './twiml-reader.js';

const ajv = new Ajv2020({ allErrors: true, strict: true, strictRequired: false });
ajv.addSchema(schema);

/** One compiled validator per verb, from the schema's `$defs` (compiled once, at module load). */
const VALIDATORS: ReadonlyMap<string, ValidateFunction> = new Map(
  [...SPECS_BY_JSON.keys()].map((name) => {
    const validate = ajv.getSchema(`${schema.$id}#/$defs/${name}`);
    if (!validate) throw new Error(`json-verbs.schema.json has no $defs/${name}`);
    return [name, validate];
  }),
);

/** Which Twilio code a schema failure on a property maps to (same as the TwiML attribute). */
const PROPERTY_CODES: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  say: { text: VerbErrorCode.SayText, ssml: VerbErrorCode.ParseFailure, voice: VerbErrorCode.SayVoice, loop: VerbErrorCode.SayLoop },
  play: { url: VerbErrorCode.InvalidUrl, loop: VerbErrorCode.PlayLoop, '': VerbErrorCode.InvalidUrl },
  pause: { length: VerbErrorCode.PauseLength },
  reject: { reason: VerbErrorCode.RejectReason },
  redirect: { url: VerbErrorCode.InvalidUrl, method: VerbErrorCode.RedirectMethod },
  gather: {
    action: VerbErrorCode.InvalidUrl,
    method: VerbErrorCode.GatherMethod,
    timeout: VerbErrorCode.GatherTimeout,
    speechTimeout: VerbErrorCode.GatherSpeechTimeout,
    finishOnKey: VerbErrorCode.GatherFinishOnKey,
    numDigits: VerbErrorCode.GatherNumDigits,
    prompts: VerbErrorCode.GatherNestedVerb,
  },
  record: {
    action: VerbErrorCode.InvalidUrl,
    method: VerbErrorCode.RecordMethod,
    timeout: VerbErrorCode.RecordTimeout,
    maxLength: VerbErrorCode.RecordMaxLength,
    finishOnKey: VerbErrorCode.RecordFinishOnKey,
    playBeep: VerbErrorCode.RecordPlayBeep,
    trim: VerbErrorCode.RecordTrim,
    transcribe: VerbErrorCode.RecordTranscribe,
  },
  dial: {
    action: VerbErrorCode.InvalidUrl,
    method: VerbErrorCode.DialMethod,
    timeout: VerbErrorCode.DialTimeout,
    timeLimit: VerbErrorCode.DialTimeLimit,
    callerId: VerbErrorCode.DialCallerId,
    hangupOnStar: VerbErrorCode.DialHangupOnStar,
    record: VerbErrorCode.DialRecord,
    recordingStatusCallback: VerbErrorCode.InvalidUrl,
    recordingStatusCallbackMethod: VerbErrorCode.DialMethod,
    referUrl: VerbErrorCode.InvalidUrl,
    referMethod: VerbErrorCode.DialMethod,
    targets: VerbErrorCode.DialNumberFormat,
    'targets:maxItems': VerbErrorCode.DialNestedElement,
    'targets.number': VerbErrorCode.DialNumberFormat,
    'targets.sendDigits': VerbErrorCode.NumberSendDigits,
    'targets.url': VerbErrorCode.InvalidUrl,
    'targets.statusCallback': VerbErrorCode.InvalidUrl,
    'targets.uri': VerbErrorCode.SipUri,
    'targets.*': VerbErrorCode.Schema,
  },
  refer: { action: VerbErrorCode.InvalidUrl, target: VerbErrorCode.SipUri },
};

/**
 * The code for a schema failure: by the property path without array indexes (`targets.uri`),
 * refined by keyword (`targets:maxItems`), else the nested default (`targets.*`), else by the
 * top-level property.
 */
function propertyCode(name: string, path: string[], keyword: string): number {
  const codes = PROPERTY_CODES[name];
  if (!codes) return VerbErrorCode.Schema;
  const full = path.join('.');
  const nested = path.length > 1 ? codes[`${path[0]}.*`] : undefined;
  return codes[`${full}:${keyword}`] ?? codes[full] ?? nested ?? codes[path[0] ?? ''] ?? VerbErrorCode.Schema;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Turns the first meaningful ajv error into a coded VerbDocumentError. */
function schemaError(name: string, index: number, errors: ErrorObject[]): VerbDocumentError | null {
  // Unknown properties are warnings (reported by buildVerb); "anyOf" and "if" only restate their branches.
  const relevant = errors.filter((e) => e.keyword !== 'additionalProperties' && e.keyword !== 'if');
  const first = relevant.find((e) => e.keyword !== 'anyOf') ?? relevant[0];
  if (!first) return null;
  // Array indexes do not change what a property means: /targets/2/uri is "targets.uri".
  const path = first.instancePath.split('/').slice(1).filter((p) => !/^\d+$/.test(p));
  const missing = first.keyword === 'required' && typeof first.params.missingProperty === 'string' ? first.params.missingProperty : null;
  // An anyOf of "required" at the top means "one of these is needed": report it on the verb itself.
  if (missing !== null && !(path.length === 0 && relevant.some((e) => e.keyword === 'anyOf'))) path.push(missing);
  const property = path[0] ?? '';
  const code = propertyCode(name, path, first.keyword);
  const subject = property === '' ? `"${name}"` : `"${name}".${path.join('.')}`;
  const detail = relevant.some((e) => e.keyword === 'anyOf') && property === '' ? 'needs url or digits' : (first.message ?? 'is invalid');
  return new VerbDocumentError(code, `${subject} (verb ${index + 1}) ${detail}`);
}

function unknownVerb(name: string): VerbDocumentError {
  if (PENDING_JSON_VERBS[name] !== undefined) return new VerbDocumentError(VerbErrorCode.Schema, `"${name}" is not supported yet`);
  const known = [...SPECS_BY_JSON.keys(), ...Object.keys(PENDING_JSON_VERBS)];
  const hint = known.find((k) => k === name.toLowerCase());
  return new VerbDocumentError(
    VerbErrorCode.Schema,
    hint ? `unknown verb "${name}" (verb names are lower case: did you mean "${hint}"?)` : `unknown verb "${name}"`,
  );
}

function readOne(item: unknown, index: number, warnings: VerbWarning[]): Verb | null {
  if (!isObject(item)) throw new VerbDocumentError(VerbErrorCode.Schema, `verb ${index + 1} must be an object`);
  const name = item.verb;
  if (typeof name !== 'string') throw new VerbDocumentError(VerbErrorCode.Schema, `verb ${index + 1} has no "verb" name`);
  const spec = SPECS_BY_JSON.get(name);
  const validate = VALIDATORS.get(name);
  if (!spec || !validate) throw unknownVerb(name);
  if (!validate(item)) {
    const err = schemaError(name, index, validate.errors ?? []);
    if (err) throw err;
  }

  const attrs: Record<string, RawValue> = {};
  for (const [key, value] of Object.entries(item)) if (key !== 'verb') attrs[key] = value as RawValue;
  const raw: RawVerb = { attrs };
  if (typeof attrs.ssml === 'string') {
    if (attrs.text !== undefined) warnings.push({ code: VerbErrorCode.Schema, message: `"say" (verb ${index + 1}): text ignored because ssml is set`, verbIndex: index });
    const spoken = readSsmlFragment(attrs.ssml);
    attrs.text = spoken.text;
    if (spoken.ssml !== undefined) raw.ssml = spoken.ssml;
  }
  if (spec.children === 'verbs' && Array.isArray(attrs.prompts)) {
    raw.children = [];
    for (const nested of attrs.prompts as unknown[]) {
      const nestedName = isObject(nested) ? nested.verb : undefined;
      if (typeof nestedName !== 'string' || !spec.nestable?.some((n) => n === nestedName)) {
        throw new VerbDocumentError(spec.nestingCode ?? VerbErrorCode.Schema, `"${name}" (verb ${index + 1}): "${String(nestedName)}" cannot be a prompt of "${name}"`);
      }
      const verb = readOne(nested, index, warnings);
      if (verb) raw.children.push(verb);
    }
  }
  return buildVerb(spec, raw, { format: 'json', index, warnings });
}

/** Reads a JSON verbs document, given as parsed JSON or as its text. */
export function readJsonVerbs(json: unknown): VerbDocument {
  let doc = json;
  if (typeof json === 'string') {
    try {
      doc = JSON.parse(json);
    } catch (e) {
      throw new VerbDocumentError(VerbErrorCode.ParseFailure, `invalid JSON: ${(e as Error).message}`);
    }
  }
  const warnings: VerbWarning[] = [];
  let list: unknown[];
  if (Array.isArray(doc)) {
    list = doc;
  } else if (isObject(doc) && Array.isArray(doc.verbs)) {
    list = doc.verbs;
    for (const key of Object.keys(doc)) {
      if (key !== 'verbs') warnings.push({ code: VerbErrorCode.Schema, message: `unknown top-level property "${key}" ignored` });
    }
  } else {
    throw new VerbDocumentError(VerbErrorCode.InvalidRoot, 'a JSON verbs document must be an array of verbs or an object with a "verbs" array');
  }
  const verbs: Verb[] = [];
  list.forEach((item, index) => {
    const verb = readOne(item, index, warnings);
    if (verb) verbs.push(verb);
  });
  return { verbs, warnings };
}
