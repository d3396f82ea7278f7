/**
 * `<Start><Stream>` (forks that run alongside the rest of the document), `<Stop><Stream>` and
 * `<Connect><Stream>` (a bidirectional stream that holds the document until the app closes the
 * socket, then the document goes on, or Connect's action is requested).
 */
import type { CallControl } from './call-control.js';
import type { ConnectVerb, StartVerb, StopVerb, StreamNoun } from './verb-model.js';
import { resolveUrl, type VerbContext } from './prompt-executors.js';
import type { VerbOutcome } from './verb-executor.js';

/** A stream URL against the document: relative URLs take the document's host, http→ws, https→wss. */
export function resolveStreamUrl(url: string, documentUrl: string | null): string {
  const base = documentUrl === null ? undefined : documentUrl.replace(/^http(s?):/i, 'ws$1:');
  const resolved = base === undefined ? new URL(url) : new URL(url, base);
  return resolved.toString();
}

function absolute(stream: StreamNoun, ctx: VerbContext): StreamNoun {
  return {
    ...stream,
    url: resolveStreamUrl(stream.url, ctx.documentUrl),
    statusCallback: stream.statusCallback === null ? null : resolveUrl(stream.statusCallback, ctx.documentUrl),
  };
}

function codeOf(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

export async function startStreams(verb: StartVerb, call: CallControl, ctx: VerbContext): Promise<VerbOutcome> {
  for (const stream of verb.streams) {
    try {
      await call.startStream(absolute(stream, ctx), false);
    } catch (err) {
      const code = codeOf(err);
      if (code === undefined) throw err; // the call ended, or a bug: not the app's mistake
      // Twilio carries on with the document when a fork cannot be started.
      call.note('error', { code, message: `<Start><Stream>: ${(err as Error).message}` });
    }
  }
  return verb.action ? { kind: 'redirect', url: resolveUrl(verb.action, ctx.documentUrl), method: verb.method } : { kind: 'next' };
}

export function stopStreams(verb: StopVerb, call: CallControl): VerbOutcome {
  for (const name of verb.streams) {
    if (!call.stopStream(name)) call.note('verb.warning', { verb: 'stop', message: `no running stream named "${name}"` });
  }
  return { kind: 'next' };
}

export async function connectStream(verb: ConnectVerb, call: CallControl, ctx: VerbContext): Promise<VerbOutcome> {
  let handle;
  try {
    handle = await call.startStream(absolute(verb.stream, ctx), true);
  } catch (err) {
    const code = codeOf(err);
    if (code === undefined) throw err;
    call.note('error', { code, message: `<Connect><Stream>: ${(err as Error).message}` });
    return next(verb, ctx);
  }
  // A redirect (REST) or the call's end aborts the verb: the stream goes with it.
  const aborted = new Promise<never>((_resolve, reject) => {
    const onAbort = (): void => {
      call.stopStream(handle.sid);
      reject(ctx.signal.reason);
    };
    if (ctx.signal.aborted) onAbort();
    else {
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      void handle.ended.finally(() => ctx.signal.removeEventListener('abort', onAbort));
    }
  });
  await Promise.race([handle.ended, aborted]);
  return next(verb, ctx);
}

function next(verb: ConnectVerb, ctx: VerbContext): VerbOutcome {
  return verb.action ? { kind: 'redirect', url: resolveUrl(verb.action, ctx.documentUrl), method: verb.method } : { kind: 'next' };
}
