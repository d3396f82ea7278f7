/**
 * Runs the application for a call: fetch a document (TwiML or JSON), execute its verbs in order,
 * follow Redirects, and hang up at the end of the document. Fetch or parse failures follow Twilio's
 * path (§7.2 of the reference): the error is recorded on the call, the fallback URL is asked with
 * ErrorCode/ErrorUrl, and without one the caller hears a short apology before the call ends.
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
  authToken: string;
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

export class ApplicationRunner {
  constructor(private readonly deps: RunnerDeps) {}

  /** Runs until the call ends. Never throws: every failure ends the call with a record. */
  async run(call: Call, target: ApplicationTarget | InlineDocument): Promise<void> {
    try {
      if ('verbs' in target) await this.runVerbs(call, target.verbs, null, null);
      else await this.runFrom(call, target);
    } catch (err) {
      if (!isAbort(err) && !call.ended) {
        call.recordError(12400, `internal failure: ${(err as Error).message}`);
        await this.apologize(call);
      }
    } finally {
      if (!call.ended) await call.hangup('end-of-document').catch(() => undefined);
    }
  }

  private async runFrom(call: Call, app: ApplicationTarget, firstParams?: Record<string, string>): Promise<void> {
    let next: NextDocument | null = { url: app.url, method: app.method, ...(firstParams ? { params: firstParams } : {}) };
    while (next && !call.ended) {
      const doc = await this.fetch(call, next.url, next.method, next.params ?? {});
      let result: Extract<DocumentResult, { ok: true }>;
      if (doc.ok) {
        result = doc;
      } else if (doc.aborted || call.ended) {
        // The caller hung up while we were asking the app: not an application error.
        return;
      } else {
        call.recordError(doc.errorCode, doc.errorMessage);
        const fallback = await this.tryFallback(call, app, doc);
        if (!fallback) {
          await this.apologize(call);
          return;
        }
        result = fallback;
      }
      // Warnings (an unknown attribute, an empty <Say>...) do not stop the call; they go on its record.
      for (const w of result.document.warnings) call.note('warning', { code: w.code, message: w.message, url: result.url });
      next = await this.runVerbs(call, result.document.verbs, result.url, app);
    }
  }

  private async tryFallback(call: Call, app: ApplicationTarget, failed: Extract<DocumentResult, { ok: false }>): Promise<Extract<DocumentResult, { ok: true }> | null> {
    if (!app.fallbackUrl || call.ended) return null;
    const doc = await this.fetch(call, app.fallbackUrl, app.fallbackMethod, { ErrorCode: String(failed.errorCode), ErrorUrl: failed.url }, true);
    if (doc.ok) return doc;
    if (!doc.aborted) call.note('error', { code: doc.errorCode, message: `fallback failed: ${doc.errorMessage}` });
    return null;
  }

  /** Runs verbs; returns the next document to fetch (Redirect) or null when the call is done. */
  private async runVerbs(call: Call, verbs: Verb[], documentUrl: string | null, app: ApplicationTarget | null): Promise<NextDocument | null> {
    for (const verb of verbs) {
      if (call.ended) return null;
      const startedAt = Date.now();
      call.note('verb.start', { verb: verb.verb });
      const outcome = await executeVerb(verb, call, { documentUrl, signal: call.signal });
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
            return this.runFrom(call, { url: outcome.url, method: outcome.method, fallbackUrl: null, fallbackMethod: 'POST' }, outcome.params).then(() => null);
          }
          return { url: outcome.url, method: outcome.method, ...(outcome.params ? { params: outcome.params } : {}) };
      }
    }
    return null;
  }

  private async fetch(call: Call, url: string, method: HttpMethod, extra: Record<string, string>, fallback = false): Promise<DocumentResult> {
    const params = { ...call.webhookParams(), ...extra };
    const result = await this.deps.webhooks.fetchDocument({ url, method, params, authToken: this.deps.authToken, timeoutMs: this.deps.timeoutMs }, call.signal);
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
