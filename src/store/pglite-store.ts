/**
 * The embedded store: a PGlite database in a data directory, driven through a worker thread
 * (pglite-worker.ts) so SQL never runs on the main thread. Writes issued in the same event-loop
 * turn are posted as one message and committed by the worker in one transaction; every promise
 * resolves only after its write committed (durable across `kill -9` of this process).
 * A lock file keeps a second process (or a second open in this one) off the same directory:
 * two PGlite instances on one data directory would corrupt it.
 */
import { mkdirSync } from 'node:fs';
import { acquireLock, releaseLock } from './data-dir-lock.js';
import { PgliteConfigRequests } from './pglite-config-requests.js';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { StoreOp, StoreRequest, StoreResponse, WorkerInit, WorkerMessage, WriteOp } from './pglite-worker.js';
import type { SerializedCallEvent } from './store-sql.js';
import {
  StoreError,
  type Account,
  type AccountSpeechSettings,
  type AccountStore,
  type CallEvent,
  type CallListQuery,
  type CallPage,
  type CallRecord,
  type CallStore,
  type RecordingListQuery,
  type RecordingPage,
  type RecordingPatch,
  type RecordingRecord,
  type RecordingStore,
  type StoredCallRecord,
  type StoredRecordingRecord,
} from './store-types.js';

/** Writes are coalesced per event-loop turn (see request()); a Record so no write op can be missed. */
const WRITE_OPS: Readonly<Record<WriteOp['op'], true>> = { createCall: true, updateCall: true, appendEvents: true, finishCall: true, createRecording: true, updateRecording: true };

interface Pending {
  resolve(value: unknown): void;
  reject(err: StoreError): void;
}

/**
 * Starts the worker from the file next to this module with this module's extension: `.js` in
 * dist/, `.ts` under tsx. Node 20 does not apply `--import tsx` to a worker's entry module, so
 * in the `.ts` case a tiny bootstrap registers tsx's loader first and then imports the worker.
 */
function spawnWorker(init: WorkerInit): Worker {
  const ext = extname(fileURLToPath(import.meta.url));
  const workerUrl = new URL(`./pglite-worker${ext}`, import.meta.url);
  if (ext !== '.ts') return new Worker(workerUrl, { workerData: init });
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(workerUrl.href)}); })`;
  return new Worker(bootstrap, { eval: true, workerData: init });
}

/**
 * Serialises events here, in the caller's thread: a non-JSON detail or a bad time then fails this
 * request alone, not the batch of writes it would have joined.
 */
function serializeEvents(events: CallEvent[]): SerializedCallEvent[] | StoreError {
  try {
    return events.map((e) => {
      if (typeof e.at !== 'string' || Number.isNaN(Date.parse(e.at))) throw new Error(`event time must be ISO 8601, got ${JSON.stringify(e.at)}`);
      if (typeof e.type !== 'string' || e.type.length === 0) throw new Error('event type must be a non-empty string');
      return { at: e.at, type: e.type, detailJson: JSON.stringify(e.detail ?? {}) };
    });
  } catch (err) {
    return new StoreError('INVALID_RECORD', (err as Error).message);
  }
}

/** Calls, accounts and recordings here; the configuration resources' methods come from PgliteConfigRequests. */
export class PgliteStore extends PgliteConfigRequests implements CallStore, AccountStore, RecordingStore {
  private readonly pending = new Map<number, Pending>();
  private outbox: StoreRequest[] = [];
  private flushScheduled = false;
  private nextId = 1;
  private closing = false;
  private failure: StoreError | null = null;
  private readonly counters = { messagesPosted: 0, writeTransactions: 0 };

  private constructor(
    private readonly worker: Worker,
    private readonly lockPath: string,
  ) {
    super();
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'responses') {
        this.counters.writeTransactions += m.writeTransactions;
        this.settle(m.responses);
      }
    });
    worker.on('error', (err) => this.fail(new StoreError('WORKER_FAILED', `store worker crashed: ${err.message}`)));
    worker.on('exit', (code) => {
      if (!this.closing) this.fail(new StoreError('WORKER_FAILED', `store worker exited unexpectedly (code ${code})`));
    });
    worker.unref(); // referenced only while requests are in flight, see updateRef()
  }

  /** Opens (creating and migrating if needed) the database in `dataDir`. */
  static async open(dataDir: string): Promise<PgliteStore> {
    try {
      mkdirSync(dataDir, { recursive: true });
    } catch (err) {
      throw new StoreError('DB_ERROR', `cannot create data directory ${dataDir}: ${(err as Error).message}`);
    }
    const lockPath = acquireLock(dataDir);
    try {
      return new PgliteStore(await PgliteStore.startWorker(dataDir), lockPath);
    } catch (err) {
      releaseLock(lockPath);
      throw err;
    }
  }

  private static async startWorker(dataDir: string): Promise<Worker> {
    const worker = spawnWorker({ dataDir });
    await new Promise<void>((resolve, reject) => {
      const onMessage = (m: WorkerMessage): void => {
        if (m.type === 'ready') done(null);
        else if (m.type === 'open-failed') done(new StoreError(m.error.code, `cannot open store in ${dataDir}: ${m.error.message}`));
      };
      const onError = (err: Error): void => done(new StoreError('WORKER_FAILED', `cannot open store in ${dataDir}: ${err.message}`));
      const onExit = (code: number): void => done(new StoreError('WORKER_FAILED', `store worker exited during open (code ${code})`));
      const done = (err: StoreError | null): void => {
        worker.off('message', onMessage).off('error', onError).off('exit', onExit);
        if (err) {
          void worker.terminate();
          reject(err);
        } else resolve();
      };
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    });
    return worker;
  }

  createCall(rec: CallRecord): Promise<void> {
    return this.request({ op: 'createCall', rec }) as Promise<void>;
  }

  updateCall(sid: string, patch: Partial<CallRecord>): Promise<void> {
    return this.request({ op: 'updateCall', sid, patch }) as Promise<void>;
  }

  appendEvents(sid: string, events: CallEvent[]): Promise<void> {
    const serialized = serializeEvents(events);
    if (serialized instanceof StoreError) return Promise.reject(serialized);
    return this.request({ op: 'appendEvents', sid, events: serialized }) as Promise<void>;
  }

  finishCall(sid: string, patch: Partial<CallRecord>, events: CallEvent[]): Promise<void> {
    const serialized = serializeEvents(events);
    if (serialized instanceof StoreError) return Promise.reject(serialized);
    return this.request({ op: 'finishCall', sid, patch, events: serialized }) as Promise<void>;
  }

  getCall(accountSid: string, sid: string): Promise<(StoredCallRecord & { events: CallEvent[] }) | null> {
    return this.request({ op: 'getCall', accountSid, sid }) as Promise<(StoredCallRecord & { events: CallEvent[] }) | null>;
  }

  listCalls(q: CallListQuery): Promise<CallPage> {
    return this.request({ op: 'listCalls', q }) as Promise<CallPage>;
  }

  closeInterruptedCalls(reason: string, endTime: string): Promise<number> {
    return this.request({ op: 'closeInterruptedCalls', reason, endTime }) as Promise<number>;
  }

  deleteCall(accountSid: string, sid: string): Promise<boolean> {
    return this.request({ op: 'deleteCall', accountSid, sid }) as Promise<boolean>;
  }

  ensureAccount(opts: { sid?: string; authToken?: string }): Promise<{ account: Account; created: boolean }> {
    return this.request({ op: 'ensureAccount', opts }) as Promise<{ account: Account; created: boolean }>;
  }

  getAccount(sid: string): Promise<Account | null> {
    return this.request({ op: 'getAccount', sid }) as Promise<Account | null>;
  }

  getSpeechSettings(accountSid: string): Promise<AccountSpeechSettings | null> {
    return this.request({ op: 'getSpeechSettings', accountSid }) as Promise<AccountSpeechSettings | null>;
  }

  setSpeechSettings(accountSid: string, settings: AccountSpeechSettings): Promise<void> {
    return this.request({ op: 'setSpeechSettings', accountSid, settings }) as Promise<void>;
  }

  createRecording(rec: RecordingRecord): Promise<void> {
    return this.request({ op: 'createRecording', rec }) as Promise<void>;
  }

  updateRecording(sid: string, patch: RecordingPatch): Promise<void> {
    return this.request({ op: 'updateRecording', sid, patch }) as Promise<void>;
  }

  getRecording(accountSid: string, sid: string): Promise<StoredRecordingRecord | null> {
    return this.request({ op: 'getRecording', accountSid, sid }) as Promise<StoredRecordingRecord | null>;
  }

  listRecordings(q: RecordingListQuery): Promise<RecordingPage> {
    return this.request({ op: 'listRecordings', q }) as Promise<RecordingPage>;
  }

  deleteRecording(accountSid: string, sid: string): Promise<boolean> {
    return this.request({ op: 'deleteRecording', accountSid, sid }) as Promise<boolean>;
  }

  listInProgressRecordings(): Promise<StoredRecordingRecord[]> {
    return this.request({ op: 'listInProgressRecordings' }) as Promise<StoredRecordingRecord[]>;
  }

  /** Messages posted to the worker and write transactions it committed (observability, tests). */
  stats(): { messagesPosted: number; writeTransactions: number } {
    return { ...this.counters };
  }

  /** Resolves when every request issued before it has been committed/answered. */
  async flush(): Promise<void> {
    await this.request({ op: 'barrier' });
  }

  /** Finishes queued work, closes the database and stops the worker. Idempotent. */
  async close(): Promise<void> {
    if (this.closing) return;
    const done = this.request({ op: 'close' });
    this.closing = true;
    try {
      await done;
    } finally {
      await this.worker.terminate();
      releaseLock(this.lockPath);
    }
  }

  protected override request(body: StoreOp): Promise<unknown> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.closing) return Promise.reject(new StoreError('STORE_CLOSED', 'store is closed'));
    const id = this.nextId++;
    const promise = new Promise<unknown>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.outbox.push({ id, body });
    this.updateRef();
    if (Object.hasOwn(WRITE_OPS, body.op)) {
      // Coalesce: everything written during this event-loop turn goes over in one message.
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.post());
      }
    } else {
      this.post(); // reads go now, behind any buffered writes, so they see them
    }
    return promise;
  }

  private post(): void {
    this.flushScheduled = false;
    if (this.outbox.length === 0) return;
    const batch = this.outbox;
    this.outbox = [];
    try {
      this.worker.postMessage(batch);
      this.counters.messagesPosted++;
    } catch {
      // A value that cannot be cloned (a function in a patch, say): post one by one so only the
      // offending request fails.
      for (const r of batch) {
        try {
          this.worker.postMessage([r]);
          this.counters.messagesPosted++;
        } catch (err) {
          this.settle([{ id: r.id, ok: false, error: { code: 'INVALID_RECORD', message: `cannot send to store: ${(err as Error).message}` } }]);
        }
      }
    }
  }

  private settle(responses: StoreResponse[]): void {
    for (const r of responses) {
      const p = this.pending.get(r.id);
      if (!p) continue;
      this.pending.delete(r.id);
      if (r.ok) p.resolve(r.result);
      else p.reject(new StoreError(r.error.code, r.error.message));
    }
    this.updateRef();
  }

  private fail(err: StoreError): void {
    if (this.failure) return;
    this.failure = err;
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(err);
    this.updateRef();
  }

  /** Keeps the process alive while writes are in flight, and only then. */
  private updateRef(): void {
    if (this.pending.size > 0) this.worker.ref();
    else this.worker.unref();
  }
}
