/**
 * SIP message serializer (RFC 3261 §7): start line, header lines, empty line, body bytes.
 *
 * Content-Length is always written and always equals the body length (mandatory on streams,
 * §18.3, and harmless on UDP); an existing Content-Length keeps its position and spelling.
 * Header values are written as they are (already unfolded), encoded as UTF-8; the body is appended
 * as bytes. A CR or LF inside a name, value or start-line element would let text inject headers,
 * so it is refused with a typed error instead of being written.
 */
import type { SipMessage } from './message.js';

export class SipSerializeError extends Error {
  readonly code = 'SIP_SERIALIZE_ERROR';
  constructor(message: string) {
    super(message);
    this.name = 'SipSerializeError';
  }
}

function checkText(what: string, text: string, allowSpace: boolean): string {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 13 || c === 10 || (!allowSpace && (c === 32 || c === 9))) {
      throw new SipSerializeError(`${what} contains ${c === 32 || c === 9 ? 'whitespace' : 'a line break'}: ${JSON.stringify(text.slice(0, 60))}`);
    }
  }
  return text;
}

function isContentLengthName(name: string): boolean {
  return name.length === 1 ? name === 'l' || name === 'L' : name.length === 14 && name.toLowerCase() === 'content-length';
}

export function serializeMessage(msg: SipMessage): Buffer {
  let head: string;
  if (msg.kind === 'request') {
    head = `${checkText('Method', msg.method, false)} ${checkText('Request-URI', msg.uri, false)} ${checkText('SIP-Version', msg.version, false)}\r\n`;
  } else {
    head = `${checkText('SIP-Version', msg.version, false)} ${msg.status} ${checkText('Reason-Phrase', msg.reason, true)}\r\n`;
  }
  let wroteLength = false;
  for (const f of msg.headers.fields) {
    if (isContentLengthName(f.name)) {
      if (!wroteLength) head += `${f.name}: ${msg.body.length}\r\n`;
      wroteLength = true;
      continue;
    }
    head += `${checkText('Header name', f.name, false)}: ${checkText('Header value', f.value, true)}\r\n`;
  }
  if (!wroteLength) head += `Content-Length: ${msg.body.length}\r\n`;
  head += '\r\n';
  const headBytes = Buffer.from(head, 'utf8');
  if (msg.body.length === 0) return headBytes;
  return Buffer.concat([headBytes, msg.body], headBytes.length + msg.body.length);
}
