/** Promise helpers for event emitters in tests (real sockets, real timers). */
import type { EventEmitter } from 'node:events';

/** Resolves with the args of the first `event` matching `pred`; fails after a generous timeout. */
export function waitForEvent<T extends unknown[]>(em: EventEmitter, event: string, pred: (...args: T) => boolean = () => true, ms = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      em.off(event, on);
      reject(new Error(`timed out waiting for '${event}'`));
    }, ms);
    const on = (...args: unknown[]): void => {
      if (!pred(...(args as T))) return;
      clearTimeout(timer);
      em.off(event, on);
      resolve(args as T);
    };
    em.on(event, on);
  });
}
