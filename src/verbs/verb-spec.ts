/**
 * The shape of a verb's specification: what both readers hand over (raw attributes, text content,
 * nested verbs) and how a spec turns that into the typed model. Each verb's spec lives in
 * verb-builders.ts or its own file (gather-builder.ts, record-builder.ts).
 */
import type { Verb, VerbName, VerbWarning } from './verb-model.js';

export type RawValue = string | number | boolean | null | undefined | object;

export interface RawVerb {
  /** Attributes (TwiML) or properties other than `verb` (JSON), as found. */
  attrs: Record<string, RawValue>;
  /** TwiML only: the element's text content (flattened when it had SSML children). */
  content?: string;
  /** Canonical SSML fragment when the `<Say>` text had markup (TwiML children or JSON `ssml`). */
  ssml?: string;
  /** Nested verbs already built by the reader (`<Gather>`'s prompts). */
  children?: Verb[];
  /** Nouns (`<Stream>`, its `<Parameter>`s), as found: TwiML elements, or JSON objects turned into the same shape. */
  nouns?: RawNoun[];
}

/** A noun element: its name, attributes and nested nouns. */
export interface RawNoun {
  tag: string;
  attrs: Record<string, RawValue>;
  nouns: RawNoun[];
  /** Text content, kept only for tags the spec lists in `textNouns` (`<Number>+1555...</Number>`). */
  text?: string;
}

export interface BuildContext {
  format: 'twiml' | 'json';
  /** Position of the verb in its document, for messages and warnings. */
  index: number;
  warnings: VerbWarning[];
}

export interface VerbSpec {
  twiml: string;
  json: VerbName;
  /** Attribute names, identical in TwiML and JSON (camelCase). */
  attributes: readonly string[];
  /** Model field filled by the TwiML text content; in JSON it is a property of that name. */
  content?: 'text' | 'url';
  /**
   * Child elements allowed in TwiML: none, SSML markup (`<Say>`), nested verbs (JSON: a `prompts`
   * array) or nouns (`<Stream>`; JSON: the properties named in `nounProperties`).
   */
  children: 'none' | 'ssml' | 'verbs' | 'nouns';
  /** For `children: 'nouns'`: JSON properties that hold the nouns (e.g. `streams`). */
  nounProperties?: readonly string[];
  /**
   * For `children: 'nouns'`: TwiML tags whose text content is meaningful (`Number`, `Sip`...); the
   * verb's own tag here means its text goes to `RawVerb.content` (`<Dial>+1555...</Dial>`). Text
   * anywhere else is ignored with a 12200 warning.
   */
  textNouns?: readonly string[];
  /** For `children: 'verbs'`: the verbs that may be nested (others are error `nestingCode`). */
  nestable?: readonly VerbName[];
  nestingCode?: number;
  /** Builds the verb, or returns null when it is dropped with a warning (empty `<Say>`). */
  build(values: Record<string, RawValue>, raw: RawVerb, ctx: BuildContext): Verb | null;
}
