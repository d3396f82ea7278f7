/**
 * The live calls of this process. Subscribers (recorder, status callbacks, metrics) hear about each
 * new call here and attach to its event stream; the registry also drains calls on shutdown.
 */
import { EventEmitter } from 'node:events';
import type { Call } from './call.js';

export class CallRegistry extends EventEmitter {
  private readonly calls = new Map<string, Call>();

  get size(): number {
    return this.calls.size;
  }

  get(sid: string): Call | undefined {
    return this.calls.get(sid);
  }

  list(): Call[] {
    return [...this.calls.values()];
  }

  /** Announces the call ('call' event) before anything happens on it, then tracks it until it ends. */
  add(call: Call): void {
    this.calls.set(call.sid, call);
    this.emit('call', call);
    void call.whenEnded().then(() => {
      this.calls.delete(call.sid);
      this.emit('call-ended', call);
      if (this.calls.size === 0) this.emit('idle');
    });
  }

  /** Waits until no call is live or `timeoutMs` passes; returns how many calls are still live. */
  async waitIdle(timeoutMs: number): Promise<number> {
    if (this.calls.size === 0) return 0;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.once('idle', done);
    });
    return this.calls.size;
  }
}
