/**
 * Sends status callbacks in the background: enqueue never blocks the call. Callbacks of one call go
 * out in order (one at a time, per-call queue) so an app sees initiated -> ringing -> answered ->
 * completed; different calls proceed in parallel, up to a global concurrency limit. A call whose
 * app is too slow cannot grow memory without bound: past `maxQueuePerCall` the oldest waiting
 * callback is dropped and counted. Failures never affect the call (Twilio logs them as warnings);
 * they are counted and reported through `onResult`.
 */
import type { HttpMethod } from '../verbs/verb-model.js';
import type { SendResult, WebhookClient } from './webhook-client.js';

export interface StatusCallbackJob {
  callSid: string;
  url: string;
  method: HttpMethod;
  params: Record<string, string>;
  authToken: string;
}

export interface StatusCallbackSenderOptions {
  /** Per request, default 15 000 ms (Twilio's ceiling). */
  timeoutMs?: number;
  /** Waiting callbacks kept per call before the oldest is dropped; default 100. */
  maxQueuePerCall?: number;
  /** Requests in flight across all calls; default 64. */
  maxConcurrent?: number;
  /** Called after each attempt (logging, metrics); `dropped` jobs are reported with result null. Must not throw. */
  onResult?: (job: StatusCallbackJob, result: SendResult | null) => void;
}

interface CallQueue {
  jobs: StatusCallbackJob[];
  running: boolean;
}

export class StatusCallbackSender {
  readonly stats = { sent: 0, failed: 0, dropped: 0 };
  private readonly queues = new Map<string, CallQueue>();
  private readonly timeoutMs: number;
  private readonly maxQueuePerCall: number;
  private readonly maxConcurrent: number;
  private readonly onResult: StatusCallbackSenderOptions['onResult'];
  private inFlight = 0;
  /** Workers waiting for a free slot under maxConcurrent. */
  private readonly slotWaiters: Array<() => void> = [];
  /** Resolvers of drain() calls, run when the last queue empties. */
  private idleWaiters: Array<() => void> = [];

  constructor(
    private readonly client: WebhookClient,
    opts: StatusCallbackSenderOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 15_000;
    this.maxQueuePerCall = opts.maxQueuePerCall ?? 100;
    this.maxConcurrent = opts.maxConcurrent ?? 64;
    this.onResult = opts.onResult;
  }

  /** Number of callbacks waiting or in flight. */
  get pending(): number {
    let n = 0;
    for (const q of this.queues.values()) n += q.jobs.length + (q.running ? 1 : 0);
    return n;
  }

  enqueue(job: StatusCallbackJob): void {
    let queue = this.queues.get(job.callSid);
    if (!queue) {
      queue = { jobs: [], running: false };
      this.queues.set(job.callSid, queue);
    }
    queue.jobs.push(job);
    while (queue.jobs.length > this.maxQueuePerCall) {
      const dropped = queue.jobs.shift() as StatusCallbackJob;
      this.stats.dropped++;
      this.onResult?.(dropped, null);
    }
    if (!queue.running) {
      queue.running = true;
      void this.work(job.callSid, queue);
    }
  }

  /** Resolves when every queue is empty, or after `timeoutMs` (whatever is left keeps going). */
  drain(timeoutMs: number): Promise<void> {
    if (this.queues.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.idleWaiters = this.idleWaiters.filter((w) => w !== done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.idleWaiters.push(done);
    });
  }

  private async work(callSid: string, queue: CallQueue): Promise<void> {
    try {
      for (let job = queue.jobs.shift(); job !== undefined; job = queue.jobs.shift()) {
        await this.acquireSlot();
        let result: SendResult;
        try {
          // WebhookClient.send never throws: failures come back as results.
          result = await this.client.send({ url: job.url, method: job.method, params: job.params, authToken: job.authToken, timeoutMs: this.timeoutMs });
        } finally {
          this.releaseSlot();
        }
        if (result.ok) this.stats.sent++;
        else this.stats.failed++;
        this.onResult?.(job, result);
      }
    } finally {
      // Even if onResult threw (a bug that surfaces as an unhandled rejection), keep the bookkeeping right.
      queue.running = false;
      if (queue.jobs.length > 0) this.enqueueRestart(callSid, queue);
      else this.queues.delete(callSid);
      if (this.queues.size === 0) for (const waiter of [...this.idleWaiters]) waiter();
    }
  }

  private enqueueRestart(callSid: string, queue: CallQueue): void {
    queue.running = true;
    void this.work(callSid, queue);
  }

  private acquireSlot(): Promise<void> {
    if (this.inFlight < this.maxConcurrent) {
      this.inFlight++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.slotWaiters.push(() => {
      this.inFlight++;
      resolve();
    }));
  }

  private releaseSlot(): void {
    this.inFlight--;
    this.slotWaiters.shift()?.();
  }
}
