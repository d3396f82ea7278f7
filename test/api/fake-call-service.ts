/**
 * A CallService stand-in for API tests: records every request, keeps "live" calls in a map and
 * writes their rows to the real store the way the engine does, so routes see both views. The
 * engine itself is tested elsewhere; this only has to honour the interface's contract.
 */
import { CallRequestError, type CallCreateRequest, type CallService, type CallUpdateRequest } from '../../src/calls/call-service.js';
import { newSid } from '../../src/ids.js';
import type { Account, CallRecord, CallStore } from '../../src/store/store-types.js';

export class FakeCallService implements CallService {
  readonly creates: { accountSid: string; request: CallCreateRequest }[] = [];
  readonly updates: { accountSid: string; sid: string; request: CallUpdateRequest }[] = [];
  readonly liveCalls = new Map<string, CallRecord>();
  /** When set, the next create rejects with it. */
  refuse: CallRequestError | null = null;

  constructor(
    private readonly store: CallStore,
    private readonly now: () => Date = () => new Date('2024-03-01T10:00:00.000Z'),
  ) {}

  async create(account: Account, request: CallCreateRequest): Promise<CallRecord> {
    this.creates.push({ accountSid: account.sid, request });
    if (this.refuse) {
      const err = this.refuse;
      this.refuse = null;
      throw err;
    }
    const rec: CallRecord = {
      sid: newSid('CA'), accountSid: account.sid, from: request.from, to: request.to, direction: 'outbound-api', status: 'queued',
      startTime: this.now().toISOString(), answerTime: null, endTime: null, durationSeconds: null, sipCallId: null,
      sipResponseCode: null, errorCode: null, errorMessage: null, endReason: null, parentCallSid: null,
    };
    await this.store.createCall(rec);
    this.liveCalls.set(rec.sid, rec);
    return { ...rec };
  }

  async update(account: Account, sid: string, request: CallUpdateRequest): Promise<CallRecord | null> {
    this.updates.push({ accountSid: account.sid, sid, request });
    const live = this.liveCalls.get(sid);
    if (!live || live.accountSid !== account.sid) return null;
    if (request.status === 'canceled' && live.status === 'in-progress') throw new CallRequestError(21220, 'Call is in-progress: cancel only applies before it is answered');
    if (request.status) {
      const ended: CallRecord = { ...live, status: request.status, endTime: this.now().toISOString(), durationSeconds: live.answerTime ? 5 : null };
      this.liveCalls.delete(sid);
      await this.store.updateCall(sid, ended);
      return ended;
    }
    return { ...live };
  }

  live(accountSid: string, sid: string): CallRecord | null {
    const rec = this.liveCalls.get(sid);
    return rec && rec.accountSid === accountSid ? { ...rec } : null;
  }

  /** Makes a call live here with this record (the store row is left as it is, possibly older). */
  setLive(rec: CallRecord): void {
    this.liveCalls.set(rec.sid, rec);
  }
}
