/**
 * `<Refer>` / `{"verb":"refer"}`: a blind transfer of the caller's SIP leg. TwiML gives the target
 * as one `<Sip>` noun (`<Refer action="/done"><Sip>sip:agent@pbx.example?X-Ticket=42</Sip></Refer>`);
 * JSON as `target` (plus an optional `headers` object). The REFER carries X- and User-to-User
 * headers only (Refer-To is built from the URI by the engine).
 */
import { VerbErrorCode } from './verb-errors.js';
import type { RawNoun, RawValue, VerbSpec } from './verb-spec.js';
import { fail, parseMethod, parseString, parseUrlAttribute, where } from './attribute-parsers.js';
import { sipTargetFromNoun } from './sip-target.js';

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The one `<Sip>` of the verb, from TwiML or from JSON's `target`/`headers`. */
function sipNoun(values: Record<string, RawValue>, nouns: RawNoun[] | undefined, label: string): RawNoun {
  if (values.target !== undefined || values.headers !== undefined) {
    const target = parseString(values.target, VerbErrorCode.SipUri, label, 'target') ?? '';
    const headers = values.headers === undefined ? {} : values.headers;
    if (!isObject(headers)) fail(VerbErrorCode.Schema, `${label}: headers must be an object of name: value`);
    const header = Object.entries(headers).map(([name, value]): RawNoun => ({ tag: 'Header', attrs: { name, value: value as RawValue }, nouns: [] }));
    return { tag: 'Sip', attrs: {}, nouns: header.length > 0 ? [{ tag: 'Headers', attrs: {}, nouns: header }] : [], text: target };
  }
  const list = nouns ?? [];
  const other = list.find((n) => n.tag !== 'Sip');
  if (other) fail(VerbErrorCode.Schema, `${label}: <Refer> holds one <Sip>, not <${other.tag}>`);
  if (list.length !== 1) fail(VerbErrorCode.Schema, `${label}: <Refer> needs exactly one <Sip>, got ${list.length}`);
  return list[0]!;
}

export const referSpec: VerbSpec = {
  twiml: 'Refer',
  json: 'refer',
  attributes: ['action', 'method'],
  children: 'nouns',
  nounProperties: ['target', 'headers'],
  textNouns: ['Sip'],
  build(values, raw, ctx) {
    const label = where(ctx, 'Refer');
    const noun = sipNoun(values, raw.nouns, label);
    for (const name of Object.keys(noun.attrs)) {
      ctx.warnings.push({ code: VerbErrorCode.Schema, message: `${label}: unknown <Sip> attribute "${name}" ignored`, verbIndex: ctx.index });
    }
    const { uri, headers } = sipTargetFromNoun(noun, 'refer', VerbErrorCode.Schema, label);
    return {
      verb: 'refer',
      action: parseUrlAttribute(values.action, label, 'action'),
      method: parseMethod(values.method, VerbErrorCode.Schema, label),
      target: uri,
      headers,
    };
  },
};
