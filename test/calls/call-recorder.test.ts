/**
 * CallRecorder: what it writes for a call's life, and that the end of a call is ONE store request
 * (finishCall: final fields and timeline together), so a `kill -9` cannot leave a finished call
 * without its events.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { CallRecorder } from '../../src/calls/call-recorder.js';
import type { Call } from '../../src/calls/call.js';
import type { CallRegistry } from '../../src/calls/call-registry.js';
import type { CallEvent, CallRecord, CallStatus, CallStore } from '../../src/store/store-types.js';

type Op = { op: string; sid: string; patch?: Partial<CallRecord>; events?: CallEvent[] };

/** A store that logs each request and resolves it when the test says so (writes in flight). */
class LoggingStore implements Pick<CallStore, 'createCall' | 'updateCall' | 'appendEvents' | 'finishCall'> {
  readonly ops: Op[] = [];
  private readonly waiting: Array<() => void> = [];

  private log(op: Op): Promise<void> {
    this.ops.push(op);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Acknowledges every request issued so far. */
  ackAll(): void {
    for (const r of this.waiting.splice(0)) r();
  }

  createCall(rec: CallRecord): Promise<void> {
    return this.log({ op: 'createCall', sid: rec.sid, patch: rec });
  }
  updateCall(sid: string, patch: Partial<CallRecord>): Promise<void> {
    return this.log({ op: 'updateCall', sid, patch });
  }
  appendEvents(sid: string, events: CallEvent[]): Promise<void> {
    return this.log({ op: 'appendEvents', sid, events });
  }
  finishCall(sid: string, patch: Partial<CallRecord>, events: CallEvent[]): Promise<void> {
    return this.log({ op: 'finishCall', sid, patch, events: [...events] });
  }
}

/** Just what callRecordOf reads, on an emitter. */
class FakeCall extends EventEmitter {
  readonly sid = 'CA' + '1'.repeat(32);
  readonly info = { accountSid: 'AC' + '2'.repeat(32), from: '+15550001111', to: '+15550002222', direction: 'inbound', sipCallId: 'abc@127.0.0.1' };
  state: CallStatus = 'ringing';
  readonly startTime = new Date('2026-11-21T10:00:00.000Z');
  answerTime: Date | null = null;
  endTime: Date | null = null;
  ended = false;
  sipResponseCode: number | null = null;
  errorCode: number | null = null;
  errorMessage: string | null = null;
  endReason: string | null = null;

  durationSeconds(): number | null {
    return this.answerTime && this.endTime ? Math.round((this.endTime.getTime() - this.answerTime.getTime()) / 1000) : null;
  }

  status(next: CallStatus): void {
    this.state = next;
    this.note('status', { to: next });
    this.emit('status', next);
  }

  note(type: string, detail: Record<string, unknown>): void {
    this.emit('event', { at: new Date().toISOString(), type, detail } satisfies CallEvent);
  }
}

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('CallRecorder', () => {
  it('writes the record at start, each live status, then the end as one finishCall with the whole timeline', async () => {
    const store = new LoggingStore();
    const registry = new EventEmitter();
    const recorder = new CallRecorder(store as unknown as CallStore, { error: (obj) => assert.fail(`unexpected error ${JSON.stringify(obj)}`) });
    recorder.attach(registry as unknown as CallRegistry);
    const call = new FakeCall();
    registry.emit('call', call as unknown as Call);
    assert.deepEqual(store.ops.map((o) => o.op), ['createCall']);

    call.note('webhook', { status: 200 });
    call.answerTime = new Date('2026-11-21T10:00:01.000Z');
    call.status('in-progress');
    await tick();
    // Writes of one call are chained: the update waits for the create's acknowledgement.
    assert.deepEqual(store.ops.map((o) => o.op), ['createCall']);
    store.ackAll();
    await tick();
    assert.deepEqual(store.ops.map((o) => o.op), ['createCall', 'updateCall']);
    assert.equal(store.ops[1]!.patch!.status, 'in-progress');
    assert.equal(store.ops[1]!.patch!.answerTime, '2026-11-21T10:00:01.000Z');

    call.endTime = new Date('2026-11-21T10:00:31.000Z');
    call.ended = true;
    call.endReason = 'caller-hangup';
    call.status('completed');
    call.emit('ended', call);
    let flushed = false;
    const flushing = recorder.flush().then(() => (flushed = true));
    store.ackAll();
    await tick();
    const ops = store.ops.map((o) => o.op);
    assert.deepEqual(ops, ['createCall', 'updateCall', 'finishCall'], 'the terminal status is not written on its own, nor the events');
    const fin = store.ops[2]!;
    assert.equal(fin.patch!.status, 'completed');
    assert.equal(fin.patch!.endTime, '2026-11-21T10:00:31.000Z');
    assert.equal(fin.patch!.durationSeconds, 30);
    assert.equal(fin.patch!.endReason, 'caller-hangup');
    assert.deepEqual(fin.events!.map((e) => e.type), ['webhook', 'status', 'status']);
    assert.equal(flushed, false, 'flush waits for the final write');
    store.ackAll();
    await flushing;
  });
});
