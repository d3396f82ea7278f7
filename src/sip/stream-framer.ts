/**
 * Message framing for stream transports (TCP, TLS): RFC 3261 §18.3.
 *
 * On a stream, Content-Length is the only message boundary, so it is mandatory; when it is
 * missing, negative, non-numeric or duplicated the byte stream cannot be resynchronised and the
 * error is fatal (the transport must close the connection — RFC 4475 ncl, mcl01). CRLFs between
 * messages are ignored (§7.5; the RFC 5626 §3.5.1 CRLFCRLF keep-alive; answering it is the
 * transport's job). A message that frames correctly but does not parse (bad start line, bad header
 * line) is a non-fatal error: the next message starts right after it.
 *
 * Input goes into one growable buffer with a read offset (amortised O(1) copying per byte), and the
 * head search resumes where it stopped: a peer trickling a 64 KiB head one byte per segment costs
 * linear, not quadratic, work.
 */
import type { SipMessage, SipRequest } from './message.js';
import { SipParseError, buildMessage, parseHead, salvageRequest, skipLeadingLineEnds, type ParsedHead } from './parser.js';

export type FramerEvent =
  | { type: 'message'; message: SipMessage }
  | { type: 'error'; error: SipParseError; request?: SipRequest; fatal: boolean };

export interface StreamFramerOptions {
  /** Largest message (head + body) accepted; larger is fatal with 513 Message Too Large. Default 64 KiB. */
  maxMessageBytes?: number;
}

/** Offset just after the empty line that ends the head starting at `from`, or -1 if not there yet. */
function findHeadEnd(buf: Buffer, from: number): number {
  let i = buf.indexOf(10, from);
  while (i >= 0) {
    if (buf[i + 1] === 10) return i + 2; // bare LF LF
    if (buf[i + 1] === 13) {
      if (i + 2 >= buf.length) return -1; // need one more byte to decide
      if (buf[i + 2] === 10) return i + 3;
    }
    i = buf.indexOf(10, i + 1);
  }
  return -1;
}

export class StreamFramer {
  private readonly maxMessageBytes: number;
  /** Unconsumed input is `store[start..end)`; the rest of `store` is free space. */
  private store: Buffer = Buffer.alloc(0);
  private start = 0;
  private end = 0;
  /** Head parsed while waiting for its body, with the number of bytes the whole message needs. */
  private pending: { head: ParsedHead; needed: number } | null = null;
  /** Where the head search can resume (relative to `start`; bytes before it were already searched). */
  private searchFrom = 0;
  private failed = false;

  constructor(opts: StreamFramerOptions = {}) {
    this.maxMessageBytes = opts.maxMessageBytes ?? 64 * 1024;
  }

  /** Bytes received but not yet returned as a message. */
  get bufferedBytes(): number {
    return this.end - this.start;
  }

  /**
   * Adds bytes read from the stream; returns the events they complete, in order. After a fatal
   * error the framer ignores further input: the connection must be closed.
   */
  push(chunk: Buffer): FramerEvent[] {
    if (this.failed || chunk.length === 0) return [];
    this.append(chunk);
    const events: FramerEvent[] = [];
    while (this.end > this.start && !this.failed) {
      const buf = this.store.subarray(this.start, this.end);
      if (!this.pending) {
        const skip = skipLeadingLineEnds(buf, 0);
        if (skip > 0) {
          this.consume(skip);
          continue;
        }
        const headEnd = findHeadEnd(buf, Math.max(0, this.searchFrom - 2));
        if (headEnd < 0) {
          this.searchFrom = buf.length;
          if (buf.length > this.maxMessageBytes) this.fatal(events, new SipParseError('Message head too large', 513));
          break;
        }
        if (headEnd > this.maxMessageBytes) {
          // Too large whatever it says; deciding before parsing keeps the answer independent of how
          // the bytes were chunked (found by fuzzing: 400 whole, 513 when trickled).
          this.fatal(events, new SipParseError('Message head too large', 513));
          break;
        }
        const head = parseHead(buf, 0, headEnd);
        const cl = head.contentLength;
        if (cl.kind !== 'value') {
          const error = cl.kind === 'invalid' ? cl.error : new SipParseError('Content-Length is mandatory on stream transports', 400);
          this.fatal(events, error, head);
          break;
        }
        if (headEnd + cl.length > this.maxMessageBytes) {
          this.fatal(events, new SipParseError('Message too large', 513), head);
          break;
        }
        this.pending = { head, needed: headEnd + cl.length };
      }
      const { head, needed } = this.pending;
      if (buf.length < needed) break; // still waiting for the body
      this.pending = null;
      const body = Buffer.from(buf.subarray(head.headEnd, needed)); // copy: the store is reused
      this.consume(needed);
      if (head.error || !head.line) {
        const error = head.error ?? new SipParseError('Malformed start line', 400);
        const request = salvageRequest(head);
        events.push(request ? { type: 'error', error, request, fatal: false } : { type: 'error', error, fatal: false });
      } else {
        events.push({ type: 'message', message: buildMessage(head, body) });
      }
    }
    return events;
  }

  private append(chunk: Buffer): void {
    const live = this.end - this.start;
    if (this.end + chunk.length > this.store.length) {
      if (live + chunk.length <= this.store.length) {
        this.store.copyWithin(0, this.start, this.end);
      } else {
        const grown = Buffer.allocUnsafe(Math.max(2 * this.store.length, live + chunk.length, 4096));
        this.store.copy(grown, 0, this.start, this.end);
        this.store = grown;
      }
      this.start = 0;
      this.end = live;
    }
    chunk.copy(this.store, this.end);
    this.end += chunk.length;
  }

  private consume(n: number): void {
    this.start += n;
    this.searchFrom = 0;
    if (this.start === this.end) {
      this.start = this.end = 0;
      if (this.store.length > 4 * this.maxMessageBytes) this.store = Buffer.alloc(0); // give back a burst's memory
    }
  }

  private fatal(events: FramerEvent[], error: SipParseError, head?: ParsedHead): void {
    this.failed = true;
    this.store = Buffer.alloc(0);
    this.start = this.end = 0;
    this.pending = null;
    const request = head ? salvageRequest(head) : undefined;
    events.push(request ? { type: 'error', error, request, fatal: true } : { type: 'error', error, fatal: true });
  }
}
