/**
 * Counts JSON nesting on the raw text, so a body like `[[[[…` a million levels deep is refused
 * before JSON.parse and every later walker over the value (schema validation, serialisers) spend
 * memory or stack on it. Brackets inside strings do not count; escapes inside strings are skipped.
 */
export function jsonDepthExceeds(text: string, maxDepth: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: the next character is escaped
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}
