/**
 * The SSML a `<Say>` may carry (Twilio's subset: break, emphasis, lang, p, phoneme, prosody, s,
 * say-as, sub, w, mark, amazon:*), rewritten into what each engine actually understands:
 *
 * - eSpeak NG reads real SSML (`-m`) but knows neither <phoneme> nor <lang>: `espeakSsml()`.
 * - ElevenLabs reads plain text with inline `<break time="1.5s" />` (≤ 3 s) and, on its English
 *   v1 / Flash v2 / Turbo v2 models, `<phoneme>` with IPA or CMU Arpabet: `elevenLabsParts()`.
 * - OpenAI reads plain text only: `plainParts()`.
 *
 * A pause no engine can render inline (any pause for OpenAI, one over 3 s for ElevenLabs) becomes
 * a `{ pauseMs }` part: the adapter inserts that much real silence between two synthesized texts.
 * Pure functions; no I/O.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { TtsError } from './text-to-speech.js';

export type SsmlNode =
  | { kind: 'text'; text: string }
  | { kind: 'element'; name: string; attrs: Record<string, string>; children: SsmlNode[] };

/** One piece of speech: text to synthesize (in the engine's own dialect), or silence. */
export type SpeechPart = { text: string } | { pauseMs: number };

/** SSML breaks longer than this are clamped (Twilio and Polly cap `<break time>` at 10 s). */
export const MAX_BREAK_MS = 10_000;

/** `strength` values (SSML 1.1 §3.2.3) in milliseconds; no attribute at all means "medium". */
const BREAK_STRENGTH_MS: Record<string, number> = { none: 0, 'x-weak': 100, weak: 250, medium: 400, strong: 750, 'x-strong': 1200 };

const SPELLED = new Set(['characters', 'spell-out', 'letters', 'verbatim']);

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  processEntities: false,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
});

const NAMED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function decodeEntities(raw: string): string {
  return raw.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, ref: string) => {
    if (ref.startsWith('#x')) return String.fromCodePoint(parseInt(ref.slice(2), 16));
    if (ref.startsWith('#')) return String.fromCodePoint(parseInt(ref.slice(1), 10));
    return NAMED[ref] ?? whole;
  });
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

type RawNode = Record<string, unknown>;

function convert(raw: RawNode[]): SsmlNode[] {
  const out: SsmlNode[] = [];
  for (const node of raw) {
    const name = Object.keys(node).find((k) => k !== ':@') ?? '';
    if (name === '#text') {
      out.push({ kind: 'text', text: decodeEntities(String(node['#text'])) });
      continue;
    }
    const attrs: Record<string, string> = {};
    const rawAttrs = node[':@'];
    if (rawAttrs && typeof rawAttrs === 'object') {
      for (const [k, v] of Object.entries(rawAttrs as Record<string, unknown>)) attrs[k] = decodeEntities(String(v));
    }
    const children = Array.isArray(node[name]) ? convert(node[name] as RawNode[]) : [];
    out.push({ kind: 'element', name, attrs, children });
  }
  return out;
}

/** Parses an SSML fragment (or a whole `<speak>` document). Malformed markup is 'invalid-request'. */
export function parseSsml(fragment: string): SsmlNode[] {
  const wrapped = `<ssml-root>${fragment.replace(/^\s*<\?xml[^>]*\?>/, '')}</ssml-root>`;
  const valid = XMLValidator.validate(wrapped);
  if (valid !== true) throw new TtsError('invalid-request', `malformed SSML: ${valid.err.msg}`);
  const [root] = parser.parse(wrapped) as RawNode[];
  return convert(((root?.['ssml-root'] as RawNode[] | undefined) ?? []));
}

/** A `<break>`'s length: `time` ("1.5s", "500ms") wins over `strength`; clamped to 0..10 s. */
export function breakMs(attrs: Record<string, string>): number {
  const time = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s)\s*$/i.exec(attrs.time ?? '');
  let ms: number;
  if (time) ms = parseFloat(time[1]!) * (time[2]!.toLowerCase() === 's' ? 1000 : 1);
  else ms = BREAK_STRENGTH_MS[(attrs.strength ?? 'medium').toLowerCase()] ?? BREAK_STRENGTH_MS.medium!;
  return Math.round(Math.min(MAX_BREAK_MS, Math.max(0, ms)));
}

function localName(name: string): string {
  return name.toLowerCase();
}

/** Spoken text of a subtree, for engines that only take words (say-as spelled out, sub → alias). */
function spokenText(nodes: SsmlNode[]): string {
  let text = '';
  for (const n of nodes) {
    if (n.kind === 'text') text += n.text;
    else if (localName(n.name) === 'sub' && n.attrs.alias !== undefined) text += n.attrs.alias;
    else if (localName(n.name) === 'say-as') text += sayAs(n);
    else if (localName(n.name) === 'break' || localName(n.name) === 'mark') text += ' ';
    else text += spokenText(n.children);
  }
  return text;
}

function sayAs(n: Extract<SsmlNode, { kind: 'element' }>): string {
  const how = (n.attrs['interpret-as'] ?? '').toLowerCase();
  const inner = spokenText(n.children);
  if (SPELLED.has(how)) return ` ${[...inner.replace(/\s+/g, '')].join(' ')} `;
  if (how === 'digits') return ` ${[...inner.replace(/\D+/g, '')].join(' ')} `;
  return inner;
}

interface PartsStyle {
  /** Renders a break inline (returns the text to insert), or undefined to make it a pause part. */
  inlineBreak(ms: number): string | undefined;
  /** Renders a <phoneme>, or undefined to speak its content. */
  phoneme?(attrs: Record<string, string>, content: string): string | undefined;
}

class PartsBuilder {
  readonly parts: SpeechPart[] = [];
  private text = '';

  constructor(private readonly style: PartsStyle) {}

  walk(nodes: SsmlNode[]): void {
    for (const n of nodes) {
      if (n.kind === 'text') {
        this.text += n.text;
        continue;
      }
      switch (localName(n.name)) {
        case 'break': {
          const ms = breakMs(n.attrs);
          const inline = this.style.inlineBreak(ms);
          if (inline !== undefined) this.text += inline;
          else this.pause(ms);
          break;
        }
        case 'mark':
          break;
        case 'sub':
          this.text += n.attrs.alias ?? spokenText(n.children);
          break;
        case 'say-as':
          this.text += sayAs(n);
          break;
        case 'phoneme': {
          const content = spokenText(n.children);
          this.text += this.style.phoneme?.(n.attrs, content) ?? content;
          break;
        }
        case 'p':
          this.text += '\n\n';
          this.walk(n.children);
          this.text += '\n\n';
          break;
        case 's':
          this.text += ' ';
          this.walk(n.children);
          this.text += ' ';
          break;
        default: // speak, emphasis, prosody, lang, w, amazon:*: their words, unmarked
          this.walk(n.children);
      }
    }
  }

  finish(): SpeechPart[] {
    this.flushText();
    return this.parts;
  }

  private pause(ms: number): void {
    this.flushText();
    if (ms <= 0) return;
    const last = this.parts[this.parts.length - 1];
    if (last && 'pauseMs' in last) last.pauseMs = Math.min(MAX_BREAK_MS, last.pauseMs + ms);
    else this.parts.push({ pauseMs: ms });
  }

  private flushText(): void {
    const text = normalizeSpace(this.text);
    this.text = '';
    if (text !== '') this.parts.push({ text });
  }
}

/** Collapses runs of blanks, keeps paragraph breaks (two newlines), trims. */
function normalizeSpace(text: string): string {
  return text
    .split(/\n\s*\n/)
    .map((para) => para.replace(/\s+/g, ' ').replace(/ ([,.;:!?])/g, '$1').trim())
    .filter((para) => para !== '')
    .join('\n\n');
}

function nodesOf(text: string, ssml: boolean): SsmlNode[] {
  return ssml ? parseSsml(text) : [{ kind: 'text', text }];
}

/**
 * Plain text with pauses (OpenAI): breaks of at least `minPauseMs` (default 500) become real
 * silence; shorter ones become a comma, which every engine renders as a short pause.
 */
export function plainParts(text: string, ssml: boolean, opts: { minPauseMs?: number } = {}): SpeechPart[] {
  const minPause = opts.minPauseMs ?? 500;
  const b = new PartsBuilder({ inlineBreak: (ms) => (ms >= minPause ? undefined : ms === 0 ? ' ' : ', ') });
  b.walk(nodesOf(text, ssml));
  return b.finish().map((p) => ('text' in p ? { text: p.text.replace(/^[,\s]+/, '').replace(/([.!?;:]),/g, '$1').replace(/,(\s*,)+/g, ',') } : p));
}

export interface ElevenLabsSsmlOptions {
  /** The model honours `<phoneme>` (Eleven English v1, Flash v2, Turbo v2). */
  phonemes: boolean;
  /** The model honours `<break>` (every model but Eleven v3). */
  breaks: boolean;
}

/** ElevenLabs' longest inline break. */
const ELEVENLABS_MAX_BREAK_MS = 3000;

/** Text with ElevenLabs' inline tags; pauses over 3 s (or any, when the model lacks <break>) as silence. */
export function elevenLabsParts(text: string, ssml: boolean, opts: ElevenLabsSsmlOptions): SpeechPart[] {
  const b = new PartsBuilder({
    inlineBreak: (ms) => {
      if (ms === 0) return ' ';
      if (!opts.breaks || ms > ELEVENLABS_MAX_BREAK_MS) return undefined;
      return ` <break time="${+(ms / 1000).toFixed(3)}s" /> `;
    },
    phoneme: (attrs, content) => {
      const alphabet = (attrs.alphabet ?? '').toLowerCase();
      if (!opts.phonemes || !attrs.ph || (alphabet !== 'ipa' && alphabet !== 'cmu-arpabet')) return undefined;
      return `<phoneme alphabet="${alphabet}" ph="${escapeXml(attrs.ph)}">${escapeXml(content.trim())}</phoneme>`;
    },
  });
  b.walk(nodesOf(text, ssml));
  return b.finish();
}

const LANGUAGE_TAG = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/;
const PROSODY_ATTRS = ['rate', 'pitch', 'volume'];
const EMPHASIS_LEVELS = new Set(['strong', 'moderate', 'none', 'reduced']);

function espeakNodes(nodes: SsmlNode[]): string {
  let out = '';
  for (const n of nodes) {
    if (n.kind === 'text') {
      out += escapeXml(n.text);
      continue;
    }
    const name = localName(n.name);
    const inner = (): string => espeakNodes(n.children);
    switch (name) {
      case 'break':
        out += `<break time="${breakMs(n.attrs)}ms"/>`;
        break;
      case 'mark':
        break;
      case 'sub':
        out += escapeXml(n.attrs.alias ?? spokenText(n.children));
        break;
      case 'say-as': {
        const how = (n.attrs['interpret-as'] ?? '').toLowerCase();
        out += SPELLED.has(how) ? `<say-as interpret-as="characters">${inner()}</say-as>` : escapeXml(sayAs(n));
        break;
      }
      case 'p':
      case 's':
        out += `<${name}>${inner()}</${name}>`;
        break;
      case 'emphasis': {
        const level = (n.attrs.level ?? '').toLowerCase();
        out += EMPHASIS_LEVELS.has(level) ? `<emphasis level="${level}">${inner()}</emphasis>` : `<emphasis>${inner()}</emphasis>`;
        break;
      }
      case 'prosody': {
        const attrs = PROSODY_ATTRS.filter((a) => n.attrs[a] !== undefined).map((a) => ` ${a}="${escapeXml(n.attrs[a]!)}"`).join('');
        out += attrs ? `<prosody${attrs}>${inner()}</prosody>` : inner();
        break;
      }
      case 'lang': {
        // eSpeak has no <lang>; <voice xml:lang> switches its language voice the same way.
        const lang = n.attrs['xml:lang'] ?? '';
        out += LANGUAGE_TAG.test(lang) ? `<voice xml:lang="${lang.toLowerCase()}">${inner()}</voice>` : inner();
        break;
      }
      default: // speak, phoneme (eSpeak cannot read IPA), w, amazon:*: their words only
        out += inner();
    }
  }
  return out;
}

/** A `<speak>` document eSpeak NG's SSML reader (`-m`) understands. */
export function espeakSsml(text: string, ssml: boolean): string {
  return `<speak>${espeakNodes(nodesOf(text, ssml))}</speak>`;
}

/**
 * Splits text into pieces of at most `maxChars`, at paragraph, then sentence, then word
 * boundaries (a provider limit such as OpenAI's 4,096 characters per request).
 */
export function splitForLimit(text: string, maxChars: number): string[] {
  if (text.length <= maxChars) return [text];
  const pieces: string[] = [];
  let rest = text;
  while (rest.length > maxChars) {
    const window = rest.slice(0, maxChars + 1);
    let cut = -1;
    for (const boundary of [/\n\s*\n/g, /[.!?…](?=\s)/g, /[,;:](?=\s)/g, /\s/g]) {
      let m: RegExpExecArray | null;
      let last = -1;
      while ((m = boundary.exec(window)) !== null) if (m.index > 0) last = m.index + (m[0].trim() === '' ? 0 : m[0].length);
      if (last > maxChars / 4) {
        cut = last;
        break;
      }
    }
    if (cut <= 0) cut = maxChars;
    pieces.push(rest.slice(0, cut).trim());
    rest = rest.slice(cut).trimStart();
  }
  if (rest.trim() !== '') pieces.push(rest.trim());
  return pieces.filter((p) => p !== '');
}
