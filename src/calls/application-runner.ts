/**
 * Runs the application for a call: fetch a document (TwiML or JSON), execute its verbs in order,
 * follow Redirects, and hang up at the end of the document. Fetch or parse failures follow Twilio's
 * path (§7.2 of the reference): the error is recorded on the call, the fallback URL is asked with
 * ErrorCode/ErrorUrl, and without one the caller hears a short apology before the call ends.
 *
 * Live control (REST `redirect`): each document runs under a "turn" signal. A redirect aborts the
 * turn, whatever it is doing (a verb, or fetching an action/Redirect URL), and the next turn
 * starts from the new target; a document fetched for the aborted turn is dropped unread, so the
 * redirect always wins.
 */
import type { HttpMethod, Verb } from '../verbs/verb-model.js';
import { executeVerb } from '../verbs/verb-executor.js';
import type { DocumentResult, WebhookClient } from '../webhooks/webhook-client.js';
import type { Call } from './call.js';

export interface ApplicationTarget {
  url: string;
  method: HttpMethod;
  fallbackUrl: string | null;
  fallbackMethod: HttpMethod;
}

export interface RunnerDeps {
  webhooks: WebhookClient;
  timeoutMs: number;
  /** Spoken when the application fails and there is no working fallback. */
  apology: string;
}

/** A document given inline (no URL): the built-in welcome when no application is configured. */
export interface InlineDocument {
  verbs: Verb[];
}

/** The next document to fetch, with the parameters a verb adds (Digits, SpeechResult, RecordingUrl...). */
interface NextDocument {
  url: string;
  method: HttpMethod;
  params?: Record<string, string>;
}

export const DEFAULT_APOLOGY = 'We are sorry, an application error has occurred. Goodbye.';

function isAbort(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}

/** A running application: the current turn's signal and a redirect waiting to take over. */
interface Run {
  turn: AbortController;
  redirect: ApplicationTarget | InlineDocument | null;
  /** The application the call was started with: its fallback still applies after a URL redirect without one. */
  app: ApplicationTarget | null;
}

export class ApplicationRunner {
  private readonly runs = new WeakMap<Call, Run>();

  constructor(private readonly deps: RunnerDeps) {}

  /**
   * Runs until the call ends. Never throws: every failure ends the call with a record.
   * `hangupAtEnd: false` (a `<Dial>` whisper) leaves the call up when the document runs out.
   */
  async run(call: Call, target: ApplicationTarget | InlineDocument, opts: { hangupAtEnd?: boolean } = {}): Promise<void> {
    const run: Run = { turn: new AbortController(), redirect: null, app: 'verbs' in target ? null : target };
    this.runs.set(call, run);
    let next: ApplicationTarget | InlineDocument | null = target;
    try {
      while (next && !call.ended) {
        try {
          if ('verbs' in next) await this.runVerbs(call, next.verbs, null, null, run);
          else await this.runFrom(call, next, run);
        } catch (err) {
          if (!(isAbort(err) && run.redirect)) throw err;
        }
        next = run.redirect;
        run.redirect = null;
        run.turn = new AbortController();
      }
    } catch (err) {
      if (!isAbort(err) && !call.ended) {
        call.recordError(12400, `internal failure: ${(err as Error).message}`);
        await this.apologize(call);
      }
    } finally {
      this.runs.delete(call);
      if (!call.ended && opts.hangupAtEnd !== false) await call.hangup('end-of-document').catch(() => undefined);
    }
  }

  /**
   * Takes the call over with a new document (REST update with Url or Twiml): the running verb or
   * fetch is aborted and `target` runs next. False when no application is running on the call.
   */
  redirect(call: Call, target: ApplicationTarget | InlineDocument): boolean {
    const run = this.runs.get(call);
    if (!run || call.ended) return false;
    // A URL redirect without its own fallback keeps the application's.
    if (!('verbs' in target) && target.fallbackUrl === null && run.app) {
      target = { ...target, fallbackUrl: run.app.fallbackUrl, fallbackMethod: run.app.fallbackMethod };
    }
    run.redirect = target;
    call.note('redirect', 'verbs' in target ? { twiml: true, verbs: target.verbs.length } : { url: target.url, method: target.method });
    run.turn.abort(Object.assign(new Error('redirected by the API'), { name: 'AbortError' }));
    return true;
  }

  private async runFrom(call: Call, app: ApplicationTarget, run: Run, firstParams?: Record<string, string>): Promise<void> {
    let next: NextDocument | null = { url: app.url, method: app.method, ...(firstParams ? { params: firstParams } : {}) };
    const signal = AbortSignal.any([call.signal, run.turn.signal]);
    while (next && !call.ended && !signal.aborted) {
      const doc = await this.fetch(call, next.url, next.method, next.params ?? {}, signal);
      // A redirect that arrived during the fetch wins: this document is dropped unread.
      if (signal.aborted) return;
      let result: Extract<DocumentResult, { ok: true }>;
      if (doc.ok) {
        result = doc;
      } else if (doc.aborted || call.ended) {
        // The caller hung up while we were asking the app: not an application error.
        return;
      } else {
        call.recordError(doc.errorCode, doc.errorMessage);
        const fallback = await this.tryFallback(call, app, doc, signal);
        if (signal.aborted) return;
        if (!fallback) {
          await this.apologize(call);
          return;
        }
        result = fallback;
      }
      // Warnings (an unknown attribute, an empty <Say>...) do not stop the call; they go on its record.
      for (const w of result.document.warnings) call.note('warning', { code: w.code, message: w.message, url: result.url });
      next = await this.runVerbs(call, result.document.verbs, result.url, app, run);
    }
  }

  private async tryFallback(call: Call, app: ApplicationTarget, failed: Extract<DocumentResult, { ok: false }>, signal: AbortSignal): Promise<Extract<DocumentResult, { ok: true }> | null> {
    if (!app.fallbackUrl || call.ended) return null;
    const doc = await this.fetch(call, app.fallbackUrl, app.fallbackMethod, { ErrorCode: String(failed.errorCode), ErrorUrl: failed.url }, signal, true);
    if (doc.ok) return doc;
    if (!doc.aborted) call.note('error', { code: doc.errorCode, message: `fallback failed: ${doc.errorMessage}` });
    return null;
  }

  /** Runs verbs; returns the next document to fetch (Redirect) or null when the call is done. */
  private async runVerbs(call: Call, verbs: Verb[], documentUrl: string | null, app: ApplicationTarget | null, run: Run): Promise<NextDocument | null> {
    const signal = AbortSignal.any([call.signal, run.turn.signal]);
    for (const verb of verbs) {
      if (call.ended || signal.aborted) return null;
      const startedAt = Date.now();
      call.note('verb.start', { verb: verb.verb });
      const outcome = await executeVerb(verb, call, { documentUrl, signal });
      // A verb cut short by a redirect ends here, whatever it returned.
      if (signal.aborted) {
        call.note('verb.end', { verb: verb.verb, outcome: 'redirected', ms: Date.now() - startedAt });
        return null;
      }
      call.note('verb.end', { verb: verb.verb, outcome: outcome.kind, ms: Date.now() - startedAt });
      switch (outcome.kind) {
        case 'next':
          continue;
        case 'hangup':
          await call.hangup('hangup-verb');
          return null;
        case 'rejected':
          return null;
        case 'redirect':
          if (!app) {
            // Inline documents have no application to fall back on; a Redirect still works.
            return this.runFrom(call, { url: outcome.url, method: outcome.method, fallbackUrl: null, fallbackMethod: 'POST' }, run, outcome.params).then(() => null);
          }
          return { url: outcome.url, method: outcome.method, ...(outcome.params ? { params: outcome.params } : {}) };
      }
    }
    return null;
  }

  private async fetch(call: Call, url: string, method: HttpMethod, extra: Record<string, string>, signal: AbortSignal, fallback = false): Promise<DocumentResult> {
    const params = { ...call.webhookParams(), ...extra };
    const result = await this.deps.webhooks.fetchDocument({ url, method, params, authToken: call.info.authToken, timeoutMs: this.deps.timeoutMs }, signal);
    call.note('webhook', {
      url,
      method,
      fallback,
      ok: result.ok,
      httpStatus: result.httpStatus,
      latencyMs: result.latencyMs,
      ...(result.ok ? { verbs: result.document.verbs.length } : { errorCode: result.errorCode, errorMessage: result.errorMessage }),
    });
    return result;
  }

  private async apologize(call: Call): Promise<void> {
    if (call.ended) return;
    try {
      const audio = await call.synthesize(this.deps.apology, 'woman', 'en-US', call.signal);
      await call.play(audio, call.signal);
    } catch (err) {
      if (!isAbort(err)) call.note('error', { message: `apology failed: ${(err as Error).message}` });
    }
    await call.hangup('application-error');
  }
}
