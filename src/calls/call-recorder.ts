/**
 * Persists every call: a record when it starts, each live status change (ringing, answered),
 * and the final record with the whole event timeline when it ends. Few writes per call (four for
 * an answered call, coalesced by the store per event-loop turn) keep the store off the hot path.
 * The end-of-call write (record and timeline, atomically) is what `kill -9` recovery relies on:
 * a call without it is closed at the next start as interrupted.
 */
import { TERMINAL_CALL_STATUSES, type CallEvent, type CallRecord, type CallStatus, type CallStore } from '../store/store-types.js';
import type { Call } from './call.js';
import type { CallRegistry } from './call-registry.js';

export interface RecorderLogger {
  error(obj: Record<string, unknown>, msg: string): void;
}

export function callRecordOf(call: Call): CallRecord {
  return {
    sid: call.sid,
    accountSid: call.info.accountSid,
    from: call.info.from,
    to: call.info.to,
    direction: call.info.direction,
    status: call.state,
    startTime: call.startTime.toISOString(),
    answerTime: call.answerTime?.toISOString() ?? null,
    endTime: call.endTime?.toISOString() ?? null,
    durationSeconds: call.ended ? call.durationSeconds() : null,
    sipCallId: call.info.sipCallId || null,
    sipResponseCode: call.sipResponseCode,
    errorCode: call.errorCode,
    errorMessage: call.errorMessage,
    endReason: call.endReason,
    parentCallSid: call.info.parentCallSid ?? null,
  };
}

export class CallRecorder {
  private readonly pending = new Set<Promise<void>>();

  constructor(
    private readonly store: CallStore,
    private readonly logger: RecorderLogger,
  ) {}

  attach(registry: CallRegistry): void {
    registry.on('call', (call: Call) => this.track(call));
  }

  private track(call: Call): void {
    const events: CallEvent[] = [];
    call.on('event', (e: CallEvent) => events.push(e));
    // Writes for one call are chained so the final record can never be overtaken by an earlier one.
    let chain = this.write(call, () => this.store.createCall(callRecordOf(call)));
    // Every live status is written (ringing, answered...), so the API's list filters see it; the
    // terminal one comes with the final record below. Writes of one turn share a transaction.
    call.on('status', (status: CallStatus) => {
      if (TERMINAL_CALL_STATUSES.includes(status)) return;
      const patch: Partial<CallRecord> = { status, sipCallId: call.info.sipCallId || null };
      if (status === 'in-progress') patch.answerTime = call.answerTime?.toISOString() ?? null;
      chain = chain.then(() => this.write(call, () => this.store.updateCall(call.sid, patch)));
    });
    call.once('ended', () => {
      chain = chain.then(() =>
        this.write(call, () => {
          // One transaction for the final fields and the timeline: two writes would let a
          // `kill -9` between them leave a 'completed' call without its events.
          const { sid: _sid, ...final } = callRecordOf(call);
          return this.store.finishCall(call.sid, final, events.splice(0));
        }),
      );
      this.pending.add(chain);
      void chain.finally(() => this.pending.delete(chain));
    });
  }

  private async write(call: Call, op: () => Promise<void>): Promise<void> {
    try {
      await op();
    } catch (err) {
      this.logger.error({ callSid: call.sid, sipCallId: call.info.sipCallId, err: (err as Error).message }, 'call record write failed');
    }
  }

  /** Resolves when every ended call's final record has been written. */
  async flush(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
  }
}
