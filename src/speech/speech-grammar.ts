/**
 * Turns Gather `hints` into what pocketsphinx needs to recognise only those phrases: a JSGF grammar
 * (one public rule, the phrases as alternatives) and a pronunciation dictionary holding just the
 * grammar's words. Pure functions: the caller supplies the pronouncing dictionary as a lookup.
 *
 * Why a grammar and not keyword spotting (-kws): measured on test/fixtures/speech (14 clips, 7 menu
 * words, 2 espeak-ng voices, 8 kHz µ-law) and an 84-clip sweep (6 voices × 2 speeds), JSGF picked the
 * right word in 14/14 and 76/84, while -kws at any single threshold (1e-5 … 1e-30) got at most 5/14:
 * short words ("no", "yes") either fired everywhere or never, so thresholds would need per-word tuning
 * that hints cannot supply. The grammar has no garbage path (a phone loop always won over the words
 * in pocketsphinx 5prealpha, and JSGF weights did not change that), so speech outside the hints maps
 * to the nearest hint; see PocketsphinxRecognizer for what that means for confidence.
 *
 * Why a dictionary of only the grammar's words: pocketsphinx_continuous starts in ~20 ms with it,
 * ~110 ms with the full 135k-word cmudict (measured), and the recognizer starts one process per stream.
 */

/** Pronunciations of a lower-case word (each a space-separated phone string), or undefined if unknown. */
export type PronunciationLookup = (word: string) => readonly string[] | undefined;

export interface DroppedHint {
  /** The hint as the app wrote it. */
  hint: string;
  /**
   * 'unknown-words': some word has no pronunciation; 'empty': nothing left after normalisation;
   * 'class-token': a Google/Twilio class such as `$OOV_CLASS_DIGIT_SEQUENCE`, which a grammar of
   * words cannot express.
   */
  reason: 'unknown-words' | 'empty' | 'class-token';
  /** The words missing from the dictionary (for 'unknown-words'). */
  unknownWords: string[];
}

export interface GrammarSearch {
  kind: 'grammar';
  /** Normalised phrases the grammar accepts, in hint order, without duplicates. */
  phrases: string[];
  /** JSGF source (the `#JSGF V1.0;` format pocketsphinx's -jsgf reads). */
  jsgf: string;
  /** Pronunciation dictionary (the cmudict format pocketsphinx's -dict reads) for the phrases' words. */
  dictionary: string;
  dropped: DroppedHint[];
}

export interface LanguageModelSearch {
  /** No usable hint: decode with the general language model (poor for free speech). */
  kind: 'language-model';
  dropped: DroppedHint[];
}

export type SpeechSearch = GrammarSearch | LanguageModelSearch;

/**
 * Lower-cases and strips punctuation: "Customer-Service!" → "customer service". Apostrophes inside a
 * word stay ("what's" is a cmudict word), other characters become word breaks.
 */
export function normalizePhrase(text: string): string {
  return text
    .toLowerCase()
    .replace(/[’‘`]/g, "'")
    .replace(/[^a-z0-9']+/g, ' ')
    .split(' ')
    .map((w) => w.replace(/^'+|'+$/g, ''))
    .filter((w) => w !== '')
    .join(' ');
}

/**
 * Splits hints as Twilio apps write them: each entry may itself be a comma-separated list
 * (`hints="sales, support"` often arrives as one string).
 */
export function splitHints(hints: readonly string[]): string[] {
  return hints.flatMap((h) => h.split(',')).map((h) => h.trim()).filter((h) => h !== '');
}

/** Builds the grammar search for `hints`, or the language-model search when no hint is usable. */
export function buildSpeechSearch(hints: readonly string[], lookup: PronunciationLookup): SpeechSearch {
  const dropped: DroppedHint[] = [];
  const phrases: string[] = [];
  const prons = new Map<string, readonly string[]>();
  for (const hint of splitHints(hints)) {
    if (hint.startsWith('$')) {
      dropped.push({ hint, reason: 'class-token', unknownWords: [] });
      continue;
    }
    const phrase = normalizePhrase(hint);
    if (phrase === '') {
      dropped.push({ hint, reason: 'empty', unknownWords: [] });
      continue;
    }
    const words = phrase.split(' ');
    const unknownWords = words.filter((w) => !(lookup(w)?.length));
    if (unknownWords.length > 0) {
      // A phrase with a word the decoder cannot pronounce cannot be matched at all; dropping only the
      // word would make the grammar accept a different phrase than the app asked for.
      dropped.push({ hint, reason: 'unknown-words', unknownWords: [...new Set(unknownWords)] });
      continue;
    }
    for (const w of words) prons.set(w, lookup(w)!);
    if (!phrases.includes(phrase)) phrases.push(phrase);
  }
  if (phrases.length === 0) return { kind: 'language-model', dropped };
  return { kind: 'grammar', phrases, jsgf: toJsgf(phrases), dictionary: toDictionary(prons), dropped };
}

function toJsgf(phrases: readonly string[]): string {
  // Words are [a-z0-9'] only (normalizePhrase), all legal JSGF tokens; no quoting needed.
  return ['#JSGF V1.0;', 'grammar hints;', `public <hint> = ${phrases.join(' | ')};`, ''].join('\n');
}

function toDictionary(prons: ReadonlyMap<string, readonly string[]>): string {
  const lines: string[] = [];
  for (const word of [...prons.keys()].sort()) {
    // cmudict's convention for alternates: word, word(2), word(3)...
    prons.get(word)!.forEach((p, i) => lines.push(`${i === 0 ? word : `${word}(${i + 1})`} ${p}`));
  }
  return lines.join('\n') + '\n';
}

/**
 * Parses a cmudict-format dictionary (`word PH ON ES`, alternates as `word(2) ...`) into a lookup.
 * Lines that are not entries (comments, blank) are skipped.
 */
export function parsePronouncingDictionary(text: string): PronunciationLookup {
  const map = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const m = /^(\S+?)(?:\(\d+\))?\s+(.+?)\s*$/.exec(line);
    if (!m || line.startsWith(';;;') || line.startsWith('#')) continue;
    const word = m[1]!.toLowerCase();
    const list = map.get(word);
    if (list) list.push(m[2]!);
    else map.set(word, [m[2]!]);
  }
  return (word) => map.get(word);
}
