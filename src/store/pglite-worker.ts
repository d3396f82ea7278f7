/**
 * The PGlite thread. PGlite is PostgreSQL compiled to WASM and executes synchronously on the
 * thread that calls it, so it lives here, away from the main thread that paces RTP every 20 ms.
 *
 * Requests arrive as arrays over the parent port and run strictly in arrival order (so a read
 * sees every write sent before it). Consecutive writes are grouped into ONE transaction — this is
 * what makes 200 call updates per second cheap — and each write is acknowledged only after that
 * transaction committed, so an acknowledged write survives `kill -9`. If a grouped transaction
 * fails, its writes are retried one transaction each, so one bad write cannot sink its neighbours.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { PGlite } from '@electric-sql/pglite';
import { runMigrations, type SqlDatabase } from './migrations.js';
import { ensureAccount, replaceSpeechSettings, selectAccount, selectSpeechSettings } from './account-sql.js';
import {
  closeInterrupted,
  insertCall,
  insertEvents,
  patchCall,
  removeCall,
  selectCall,
  selectCalls,
  toStoreError,
  type SerializedCallEvent,
} from './store-sql.js';
import { insertRecording, patchRecording, removeRecording, selectInProgressRecordings, selectRecording, selectRecordings } from './recording-sql.js';
import { insertApplication, patchApplication, removeApplication, selectApplication, selectApplications } from './application-sql.js';
import { findNumberByPhone, insertNumber, patchNumber, removeNumber, selectNumber, selectNumbers } from './number-sql.js';
import { findApiKeyBySid, insertApiKey, patchApiKey, removeApiKey, selectApiKey, selectApiKeys } from './api-key-sql.js';
import { insertCarrier, patchCarrier, removeCarrier, selectCarrier, selectCarriers, selectEnabledCarriers } from './carrier-sql.js';
import { findSipUserByUsername, insertSipUser, patchSipUser, removeSipUser, selectSipUser, selectSipUsers } from './sip-user-sql.js';
import type {
  AccountSpeechSettings,
  ApiKeyRecord,
  ApplicationPatch,
  ApplicationRecord,
  CallListQuery,
  CallRecord,
  CarrierPatch,
  CarrierRecord,
  IncomingNumberPatch,
  IncomingNumberRecord,
  RecordingListQuery,
  RecordingPatch,
  RecordingRecord,
  ResourceListQuery,
  SipUserPatch,
  SipUserRecord,
  StoreErrorCode,
} from './store-types.js';

export type WriteOp =
  | { op: 'createCall'; rec: CallRecord }
  | { op: 'updateCall'; sid: string; patch: Partial<CallRecord> }
  | { op: 'appendEvents'; sid: string; events: SerializedCallEvent[] }
  /** Patch then events, applied in the same transaction (see CallStore.finishCall). */
  | { op: 'finishCall'; sid: string; patch: Partial<CallRecord>; events: SerializedCallEvent[] }
  | { op: 'createRecording'; rec: RecordingRecord }
  | { op: 'updateRecording'; sid: string; patch: RecordingPatch };

/**
 * Configuration resources run one request at a time, outside the coalesced write batches: each
 * returns its row and may fail on its own (a taken phone number), which a batch cannot report.
 */
export type ResourceOp =
  | { op: 'createNumber'; rec: IncomingNumberRecord }
  | { op: 'updateNumber'; accountSid: string; sid: string; patch: IncomingNumberPatch }
  | { op: 'getNumber'; accountSid: string; sid: string }
  | { op: 'findNumber'; phoneNumber: string }
  | { op: 'listNumbers'; q: ResourceListQuery & { phoneNumber?: string; friendlyName?: string } }
  | { op: 'deleteNumber'; accountSid: string; sid: string }
  | { op: 'createApplication'; rec: ApplicationRecord }
  | { op: 'updateApplication'; accountSid: string; sid: string; patch: ApplicationPatch }
  | { op: 'getApplication'; accountSid: string; sid: string }
  | { op: 'listApplications'; q: ResourceListQuery & { friendlyName?: string } }
  | { op: 'deleteApplication'; accountSid: string; sid: string }
  | { op: 'createApiKey'; rec: ApiKeyRecord }
  | { op: 'findApiKey'; sid: string }
  | { op: 'getApiKey'; accountSid: string; sid: string }
  | { op: 'updateApiKey'; accountSid: string; sid: string; patch: { friendlyName: string } }
  | { op: 'listApiKeys'; q: ResourceListQuery }
  | { op: 'deleteApiKey'; accountSid: string; sid: string }
  | { op: 'createCarrier'; rec: CarrierRecord }
  | { op: 'updateCarrier'; accountSid: string; sid: string; patch: CarrierPatch }
  | { op: 'getCarrier'; accountSid: string; sid: string }
  | { op: 'listCarriers'; q: ResourceListQuery & { friendlyName?: string } }
  /** `accountSid` null: every account's. */
  | { op: 'enabledCarriers'; accountSid: string | null }
  | { op: 'deleteCarrier'; accountSid: string; sid: string }
  | { op: 'createSipUser'; rec: SipUserRecord }
  | { op: 'updateSipUser'; accountSid: string; sid: string; patch: SipUserPatch }
  | { op: 'getSipUser'; accountSid: string; sid: string }
  | { op: 'findSipUser'; username: string }
  | { op: 'listSipUsers'; q: ResourceListQuery & { username?: string; friendlyName?: string } }
  | { op: 'deleteSipUser'; accountSid: string; sid: string };

export type StoreOp =
  | WriteOp
  | ResourceOp
  | { op: 'closeInterruptedCalls'; reason: string; endTime: string }
  | { op: 'getCall'; accountSid: string; sid: string }
  | { op: 'listCalls'; q: CallListQuery }
  | { op: 'deleteCall'; accountSid: string; sid: string }
  | { op: 'ensureAccount'; opts: { sid?: string; authToken?: string } }
  | { op: 'getAccount'; sid: string }
  | { op: 'getSpeechSettings'; accountSid: string }
  | { op: 'setSpeechSettings'; accountSid: string; settings: AccountSpeechSettings }
  | { op: 'getRecording'; accountSid: string; sid: string }
  | { op: 'listRecordings'; q: RecordingListQuery }
  | { op: 'deleteRecording'; accountSid: string; sid: string }
  | { op: 'listInProgressRecordings' }
  /** Resolves once everything sent before it is done. */
  | { op: 'barrier' }
  | { op: 'close' };

export interface StoreRequest {
  id: number;
  body: StoreOp;
}

export type StoreResponse =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: { code: StoreErrorCode; message: string } };

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'open-failed'; error: { code: StoreErrorCode; message: string } }
  /** `writeTransactions`: write transactions committed to produce these responses (for stats). */
  | { type: 'responses'; responses: StoreResponse[]; writeTransactions: number };

export interface WorkerInit {
  dataDir: string;
}

// A Record (not a list) so the compiler insists on every write op, and on nothing else.
const WRITE_OPS: Readonly<Record<WriteOp['op'], true>> = { createCall: true, updateCall: true, appendEvents: true, finishCall: true, createRecording: true, updateRecording: true };

function isWrite(body: StoreOp): body is WriteOp {
  return Object.hasOwn(WRITE_OPS, body.op);
}

async function applyWrite(tx: Parameters<Parameters<SqlDatabase['transaction']>[0]>[0], w: WriteOp): Promise<void> {
  switch (w.op) {
    case 'createCall':
      return insertCall(tx, w.rec);
    case 'updateCall':
      return patchCall(tx, w.sid, w.patch);
    case 'appendEvents':
      return insertEvents(tx, w.sid, w.events);
    case 'finishCall':
      // Every write runs inside a transaction (runWrites), so the two statements commit together.
      await patchCall(tx, w.sid, w.patch);
      return insertEvents(tx, w.sid, w.events);
    case 'createRecording':
      return insertRecording(tx, w.rec);
    case 'updateRecording':
      return patchRecording(tx, w.sid, w.patch);
  }
}

function failure(id: number, err: unknown): StoreResponse {
  const e = toStoreError(err);
  return { id, ok: false, error: { code: e.code, message: e.message } };
}

async function runWrites(db: SqlDatabase, batch: StoreRequest[]): Promise<{ responses: StoreResponse[]; committed: number }> {
  try {
    await db.transaction(async (tx) => {
      for (const r of batch) await applyWrite(tx, r.body as WriteOp);
    });
    return { responses: batch.map((r) => ({ id: r.id, ok: true, result: null })), committed: 1 };
  } catch (err) {
    if (batch.length === 1) return { responses: [failure(batch[0]!.id, err)], committed: 0 };
  }
  const responses: StoreResponse[] = [];
  let committed = 0;
  for (const r of batch) {
    try {
      await db.transaction((tx) => applyWrite(tx, r.body as WriteOp));
      responses.push({ id: r.id, ok: true, result: null });
      committed++;
    } catch (err) {
      responses.push(failure(r.id, err));
    }
  }
  return { responses, committed };
}

async function runOne(db: PGlite, r: StoreRequest): Promise<StoreResponse> {
  const sql = db as unknown as SqlDatabase;
  try {
    const b = r.body;
    let result: unknown = null;
    switch (b.op) {
      case 'closeInterruptedCalls':
        result = await db.transaction((tx) => closeInterrupted(tx, b.reason, b.endTime));
        break;
      case 'getCall':
        result = await selectCall(sql, b.accountSid, b.sid);
        break;
      case 'listCalls':
        result = await selectCalls(sql, b.q);
        break;
      case 'ensureAccount':
        result = await ensureAccount(sql, b.opts);
        break;
      case 'getAccount':
        result = await selectAccount(sql, b.sid);
        break;
      case 'getSpeechSettings':
        result = await selectSpeechSettings(sql, b.accountSid);
        break;
      case 'setSpeechSettings':
        await replaceSpeechSettings(sql, b.accountSid, b.settings);
        break;
      case 'getRecording':
        result = await selectRecording(sql, b.accountSid, b.sid);
        break;
      case 'listRecordings':
        result = await selectRecordings(sql, b.q);
        break;
      case 'deleteRecording':
        result = await removeRecording(sql, b.accountSid, b.sid);
        break;
      case 'listInProgressRecordings':
        result = await selectInProgressRecordings(sql);
        break;
      case 'deleteCall':
        result = await removeCall(sql, b.accountSid, b.sid);
        break;
      case 'barrier':
        break;
      case 'close':
        await db.close();
        break;
      default:
        // drain() hands every write to runWrites; one here would be a bug in the queue logic.
        if (isWrite(b)) throw new Error(`write op ${b.op} reached the single-op path`);
        result = await runResourceOp(sql, b);
    }
    return { id: r.id, ok: true, result };
  } catch (err) {
    return failure(r.id, err);
  }
}

async function runResourceOp(sql: SqlDatabase, b: ResourceOp): Promise<unknown> {
  switch (b.op) {
    case 'createNumber':
      return insertNumber(sql, b.rec);
    case 'updateNumber':
      return patchNumber(sql, b.accountSid, b.sid, b.patch);
    case 'getNumber':
      return selectNumber(sql, b.accountSid, b.sid);
    case 'findNumber':
      return findNumberByPhone(sql, b.phoneNumber);
    case 'listNumbers':
      return selectNumbers(sql, b.q);
    case 'deleteNumber':
      return removeNumber(sql, b.accountSid, b.sid);
    case 'createApplication':
      return insertApplication(sql, b.rec);
    case 'updateApplication':
      return patchApplication(sql, b.accountSid, b.sid, b.patch);
    case 'getApplication':
      return selectApplication(sql, b.accountSid, b.sid);
    case 'listApplications':
      return selectApplications(sql, b.q);
    case 'deleteApplication':
      return removeApplication(sql, b.accountSid, b.sid);
    case 'createApiKey':
      return insertApiKey(sql, b.rec);
    case 'findApiKey':
      return findApiKeyBySid(sql, b.sid);
    case 'getApiKey':
      return selectApiKey(sql, b.accountSid, b.sid);
    case 'updateApiKey':
      return patchApiKey(sql, b.accountSid, b.sid, b.patch);
    case 'listApiKeys':
      return selectApiKeys(sql, b.q);
    case 'deleteApiKey':
      return removeApiKey(sql, b.accountSid, b.sid);
    case 'createCarrier':
      return insertCarrier(sql, b.rec);
    case 'updateCarrier':
      return patchCarrier(sql, b.accountSid, b.sid, b.patch);
    case 'getCarrier':
      return selectCarrier(sql, b.accountSid, b.sid);
    case 'listCarriers':
      return selectCarriers(sql, b.q);
    case 'enabledCarriers':
      return selectEnabledCarriers(sql, b.accountSid);
    case 'deleteCarrier':
      return removeCarrier(sql, b.accountSid, b.sid);
    case 'createSipUser':
      return insertSipUser(sql, b.rec);
    case 'updateSipUser':
      return patchSipUser(sql, b.accountSid, b.sid, b.patch);
    case 'getSipUser':
      return selectSipUser(sql, b.accountSid, b.sid);
    case 'findSipUser':
      return findSipUserByUsername(sql, b.username);
    case 'listSipUsers':
      return selectSipUsers(sql, b.q);
    case 'deleteSipUser':
      return removeSipUser(sql, b.accountSid, b.sid);
    default:
      throw new Error(`unexpected op ${(b as { op: string }).op}`);
  }
}

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('pglite-worker must run in a worker thread');
  const { dataDir } = workerData as WorkerInit;
  let db: PGlite;
  try {
    db = await PGlite.create(dataDir);
    await runMigrations(db as unknown as SqlDatabase);
  } catch (err) {
    const e = toStoreError(err);
    port.postMessage({ type: 'open-failed', error: { code: e.code === 'DB_ERROR' ? 'WORKER_FAILED' : e.code, message: e.message } } satisfies WorkerMessage);
    return;
  }
  const queue: StoreRequest[] = [];
  let draining = false;
  let closed = false;

  const drain = async (): Promise<void> => {
    while (queue.length > 0) {
      const head = queue[0]!;
      let responses: StoreResponse[];
      let writeTransactions = 0;
      if (closed) {
        queue.length = 0;
        break;
      }
      if (isWrite(head.body)) {
        let n = 1;
        while (n < queue.length && isWrite(queue[n]!.body)) n++;
        const r = await runWrites(db as unknown as SqlDatabase, queue.splice(0, n));
        responses = r.responses;
        writeTransactions = r.committed;
      } else {
        queue.shift();
        responses = [await runOne(db, head)];
        if (head.body.op === 'close') closed = true;
      }
      port.postMessage({ type: 'responses', responses, writeTransactions } satisfies WorkerMessage);
      // Let requests that arrived meanwhile reach the queue, so they join the next transaction.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    draining = false;
    if (closed) port.close();
  };

  port.on('message', (requests: StoreRequest[]) => {
    queue.push(...requests);
    if (!draining) {
      draining = true;
      setImmediate(() => void drain());
    }
  });
  port.postMessage({ type: 'ready' } satisfies WorkerMessage);
}

await main();
