/**
 * TwiML reader: an XML `<Response>` document -> the typed verb model.
 *
 * Rules (Twilio's interpreter): element and attribute names are case-sensitive; the root must be
 * `<Response>` (12102); malformed XML is 12100; an unknown verb is 12200; comments are ignored;
 * an empty `<Response/>` is valid and means "hang up". `<Say>` may contain SSML, which is flattened
 * to its spoken text while the canonical markup is kept in `ssml`.
 *
 * fast-xml-parser runs with `preserveOrder` so verbs keep document order. Entity decoding is done
 * here rather than by the parser: the parser leaves numeric references undecoded, and doing it
 * ourselves lets unknown entities fail loudly (12100) instead of being read aloud. DOCTYPE is
 * refused outright: TwiML never needs one and it is the door to entity-expansion attacks.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { PENDING_VERBS, type Verb, type VerbDocument, type VerbWarning } from './verb-model.js';
import { VerbDocumentError, VerbErrorCode } from './verb-errors.js';
import { SPECS_BY_TWIML, buildVerb, type VerbSpec } from './verb-builders.js';
import type { RawNoun, RawVerb } from './verb-spec.js';

/** One node of fast-xml-parser's `preserveOrder` output. */
type XmlNode = Record<string, unknown>;

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: false,
  htmlEntities: false,
  cdataPropName: '#cdata',
  ignoreDeclaration: true,
  ignorePiTags: true,
});

/** SSML elements Twilio accepts inside `<Say>` (plus the `amazon:` extensions). */
const SSML_ELEMENTS = new Set(['break', 'emphasis', 'lang', 'p', 'phoneme', 'prosody', 's', 'say-as', 'sub', 'w', 'speak', 'mark']);
/** SSML elements that separate words when flattened to plain text. */
const SSML_BOUNDARIES = new Set(['break', 'p', 's', 'mark']);

const NAMED_ENTITIES: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function parseFailure(message: string): never {
  throw new VerbDocumentError(VerbErrorCode.ParseFailure, message);
}

/** XML 1.0 §4.1 character and predefined entity references. */
function decodeEntities(raw: string): string {
  const decoded = raw.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[A-Za-z][A-Za-z0-9._-]*);/g, (_m, ref: string) => {
    if (ref.startsWith('#')) {
      const cp = ref[1] === 'x' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
      const legal = cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0x10ffff && cp !== 0xfffe && cp !== 0xffff);
      if (!legal) parseFailure(`invalid character reference &${ref};`);
      return String.fromCodePoint(cp);
    }
    const named = NAMED_ENTITIES[ref];
    if (named === undefined) parseFailure(`undefined entity &${ref};`);
    return named;
  });
  return decoded;
}

function escapeXml(text: string, attribute = false): string {
  const s = text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return attribute ? s.replace(/"/g, '&quot;') : s;
}

function tagOf(node: XmlNode): string {
  for (const key of Object.keys(node)) if (key !== ':@') return key;
  return '';
}

function childrenOf(node: XmlNode, tag: string): XmlNode[] {
  const value = node[tag];
  return Array.isArray(value) ? (value as XmlNode[]) : [];
}

function attributesOf(node: XmlNode): Record<string, string> {
  const raw = node[':@'];
  const out: Record<string, string> = {};
  if (raw && typeof raw === 'object') {
    for (const [name, value] of Object.entries(raw as Record<string, unknown>)) out[name] = decodeEntities(String(value));
  }
  return out;
}

/** Text of a `#text` or `#cdata` node (CDATA is literal: no entity decoding). */
function textOf(node: XmlNode, tag: string): string | undefined {
  if (tag === '#text') return decodeEntities(String(node['#text']));
  if (tag === '#cdata') return childrenOf(node, '#cdata').map((c) => String(c['#text'] ?? '')).join('');
  return undefined;
}

function parseXml(xml: string): XmlNode[] {
  const source = xml.replace(/^\uFEFF/, '');
  if (source.trim() === '') parseFailure('empty document');
  if (/<!DOCTYPE/i.test(source)) parseFailure('DOCTYPE declarations are not allowed in TwiML');
  const valid = XMLValidator.validate(source, { allowBooleanAttributes: false });
  if (valid !== true) parseFailure(`invalid XML at line ${valid.err.line}, column ${valid.err.col}: ${valid.err.msg}`);
  try {
    return parser.parse(source) as XmlNode[];
  } catch (err) {
    // The validator lets a few malformed documents through (`<Response/`, an unclosed `<?pi`) and
    // the parser then throws a plain Error: still a parse failure, 12100 (found by fuzzing).
    return parseFailure(`invalid XML: ${(err as Error).message}`);
  }
}

interface SsmlResult {
  text: string;
  /** Canonical markup; undefined when the content was plain text. */
  ssml?: string;
}

function readSsmlNodes(nodes: XmlNode[], parentLabel: string): { text: string; markup: string; hasElements: boolean } {
  let text = '';
  let markup = '';
  let hasElements = false;
  for (const node of nodes) {
    const tag = tagOf(node);
    const literal = textOf(node, tag);
    if (literal !== undefined) {
      text += literal;
      markup += escapeXml(literal);
      continue;
    }
    if (!SSML_ELEMENTS.has(tag) && !tag.startsWith('amazon:')) {
      throw new VerbDocumentError(VerbErrorCode.Schema, `${parentLabel} cannot contain <${tag}>`);
    }
    hasElements = true;
    const attrs = attributesOf(node);
    const inner = readSsmlNodes(childrenOf(node, tag), parentLabel);
    const spoken = tag === 'sub' && attrs.alias !== undefined ? attrs.alias : inner.text;
    text += SSML_BOUNDARIES.has(tag) ? ` ${spoken} ` : spoken;
    const attrText = Object.entries(attrs).map(([k, v]) => ` ${k}="${escapeXml(v, true)}"`).join('');
    markup += inner.markup === '' ? `<${tag}${attrText}/>` : `<${tag}${attrText}>${inner.markup}</${tag}>`;
  }
  return { text, markup, hasElements };
}

function readSsmlContent(nodes: XmlNode[], label: string): SsmlResult {
  const r = readSsmlNodes(nodes, label);
  return r.hasElements ? { text: r.text, ssml: r.markup } : { text: r.text };
}

/**
 * Reads an SSML fragment (the inner markup of a `<Say>`) into spoken text and canonical markup.
 * Used by the JSON reader for `{"verb":"say","ssml":"..."}` so both formats produce the same model.
 */
export function readSsmlFragment(fragment: string): SsmlResult {
  const [root] = parseXml(`<Say>${fragment}</Say>`);
  return readSsmlContent(childrenOf(root ?? {}, 'Say'), 'ssml');
}

function readPlainContent(nodes: XmlNode[], spec: VerbSpec): string {
  let text = '';
  for (const node of nodes) {
    const tag = tagOf(node);
    const literal = textOf(node, tag);
    if (literal === undefined) throw new VerbDocumentError(VerbErrorCode.Schema, `<${spec.twiml}> cannot contain <${tag}>`);
    text += literal;
  }
  return text;
}

function unknownVerb(tag: string): VerbDocumentError {
  const pending = PENDING_VERBS[tag];
  if (pending !== undefined) return new VerbDocumentError(VerbErrorCode.Schema, `<${tag}> is not supported yet`);
  const known = [...SPECS_BY_TWIML.keys(), ...Object.keys(PENDING_VERBS)];
  const hint = known.find((k) => k.toLowerCase() === tag.toLowerCase());
  return new VerbDocumentError(
    VerbErrorCode.Schema,
    hint ? `unknown verb <${tag}> (names are case-sensitive: did you mean <${hint}>?)` : `unknown verb <${tag}>`,
  );
}

export function readTwiml(xml: string): VerbDocument {
  const top = parseXml(xml);
  const roots = top.filter((n) => {
    const tag = tagOf(n);
    if (tag === '#text') {
      if (String(n['#text']).trim() !== '') parseFailure('text outside the root element');
      return false;
    }
    return !tag.startsWith('?');
  });
  if (roots.length !== 1) parseFailure(roots.length === 0 ? 'no root element' : 'more than one root element');
  const root = roots[0] as XmlNode;
  const rootTag = tagOf(root);
  if (rootTag !== 'Response') {
    throw new VerbDocumentError(VerbErrorCode.InvalidRoot, `root element must be <Response>, got <${rootTag}>`);
  }

  const warnings: VerbWarning[] = [];
  for (const name of Object.keys(attributesOf(root))) {
    warnings.push({ code: VerbErrorCode.Schema, message: `<Response>: unknown attribute "${name}" ignored` });
  }
  const verbs: Verb[] = [];
  let index = 0;
  for (const node of childrenOf(root, 'Response')) {
    const tag = tagOf(node);
    const literal = textOf(node, tag);
    if (literal !== undefined) {
      if (literal.trim() !== '') warnings.push({ code: VerbErrorCode.Schema, message: `text outside a verb ignored: "${literal.trim().slice(0, 40)}"` });
      continue;
    }
    const spec = SPECS_BY_TWIML.get(tag);
    if (!spec) throw unknownVerb(tag);
    const verb = readVerbElement(node, tag, spec, index, warnings);
    if (verb) verbs.push(verb);
    index++;
  }
  return { verbs, warnings };
}

function readVerbElement(node: XmlNode, tag: string, spec: VerbSpec, index: number, warnings: VerbWarning[]): Verb | null {
  const children = childrenOf(node, tag);
  const label = `<${tag}> (verb ${index + 1})`;
  if (spec.children === 'verbs') {
    const nested = readNestedVerbs(children, spec, label, index, warnings);
    return buildVerb(spec, { attrs: attributesOf(node), children: nested }, { format: 'twiml', index, warnings });
  }
  if (spec.children === 'nouns') {
    const textTags = new Set(spec.textNouns ?? []);
    const keepText = textTags.has(tag);
    const raw: RawVerb = { attrs: attributesOf(node), nouns: readNouns(keepText ? withoutText(children) : children, textTags, label, warnings, index) };
    if (keepText) raw.content = textContent(children);
    return buildVerb(spec, raw, { format: 'twiml', index, warnings });
  }
  const content = spec.children === 'ssml' ? readSsmlContent(children, label) : { text: readPlainContent(children, spec) };
  return buildVerb(
    spec,
    { attrs: attributesOf(node), content: content.text, ...(content.ssml !== undefined ? { ssml: content.ssml } : {}) },
    { format: 'twiml', index, warnings },
  );
}

/** The element children of a verb, each with its tag; text between them is ignored with a warning (whitespace silently). */
function elementsOf(nodes: XmlNode[], label: string, warnings: VerbWarning[], index: number): [XmlNode, string][] {
  const out: [XmlNode, string][] = [];
  for (const node of nodes) {
    const tag = tagOf(node);
    const literal = textOf(node, tag);
    if (literal === undefined) out.push([node, tag]);
    else if (literal.trim() !== '') warnings.push({ code: VerbErrorCode.Schema, message: `${label}: text ignored: "${literal.trim().slice(0, 40)}"`, verbIndex: index });
  }
  return out;
}

function withoutText(nodes: XmlNode[]): XmlNode[] {
  return nodes.filter((n) => textOf(n, tagOf(n)) === undefined);
}

/** The text directly inside an element (its child elements' text excluded). */
function textContent(nodes: XmlNode[]): string {
  let text = '';
  for (const node of nodes) text += textOf(node, tagOf(node)) ?? '';
  return text;
}

/**
 * Noun elements (`<Stream>` and its `<Parameter>`s, `<Dial>`'s `<Number>`...), recursively; which
 * ones are allowed is the spec's call. Text is kept for the tags in `textTags`, else warned about.
 */
function readNouns(nodes: XmlNode[], textTags: ReadonlySet<string>, label: string, warnings: VerbWarning[], index: number): RawNoun[] {
  return elementsOf(nodes, label, warnings, index).map(([node, tag]) => {
    const children = childrenOf(node, tag);
    const keepText = textTags.has(tag);
    const noun: RawNoun = { tag, attrs: attributesOf(node), nouns: readNouns(keepText ? withoutText(children) : children, textTags, label, warnings, index) };
    if (keepText) noun.text = textContent(children);
    return noun;
  });
}

/** Verbs nested in a verb (`<Gather><Say/><Play/></Gather>`): only the spec's `nestable` ones. */
function readNestedVerbs(nodes: XmlNode[], parent: VerbSpec, label: string, index: number, warnings: VerbWarning[]): Verb[] {
  const out: Verb[] = [];
  for (const [node, tag] of elementsOf(nodes, label, warnings, index)) {
    const spec = SPECS_BY_TWIML.get(tag);
    if (!spec || !parent.nestable?.includes(spec.json)) {
      throw new VerbDocumentError(parent.nestingCode ?? VerbErrorCode.Schema, `${label}: <${tag}> cannot be nested in <${parent.twiml}>`);
    }
    const verb = readVerbElement(node, tag, spec, index, warnings);
    if (verb) out.push(verb);
  }
  return out;
}
