// Child process for pglite-durability.test.ts: writes call records forever, printing one line per
// write AFTER its promise resolved ("acknowledged"), until the parent SIGKILLs it.
import { PgliteStore } from '../../src/store/pglite-store.js';
import { newSid } from '../../src/ids.js';
import type { CallStatus } from '../../src/store/store-types.js';

const [dataDir, accountSid] = process.argv.slice(2);
if (!dataDir || !accountSid) throw new Error('usage: kill9-writer <dataDir> <accountSid>');
const store = await PgliteStore.open(dataDir);
process.stdout.write('READY\n');

const NEXT: Partial<Record<CallStatus, CallStatus>> = { ringing: 'in-progress', 'in-progress': 'completed' };
const live = new Map<string, CallStatus>();

async function one(): Promise<void> {
  // Mix creates, status updates and event appends, like the call engine does.
  const entry = [...live.entries()].find(([, s]) => NEXT[s]);
  if (entry && Math.random() < 0.6) {
    const [sid, status] = entry;
    const next = NEXT[status]!;
    live.set(sid, next);
    if (next === 'completed') {
      // The end of a call, as CallRecorder writes it: final fields and timeline in one request.
      // "F" is printed once acknowledged; the parent also checks that no 'completed' call lacks them.
      const events = [1, 2, 3].map((n) => ({ at: new Date().toISOString(), type: 'final', detail: { n } }));
      await store.finishCall(sid, { status: 'completed', endTime: new Date().toISOString(), durationSeconds: 1 }, events);
      process.stdout.write(`F ${sid}\n`);
      return;
    }
    await store.updateCall(sid, { status: next });
    process.stdout.write(`U ${sid} ${next}\n`);
    await store.appendEvents(sid, [{ at: new Date().toISOString(), type: 'status', detail: { status: next } }]);
    process.stdout.write(`E ${sid}\n`);
  } else {
    const sid = newSid('CA');
    await store.createCall({
      sid, accountSid, from: '+15550001111', to: '+15550002222', direction: 'inbound', status: 'ringing',
      startTime: new Date().toISOString(), answerTime: null, endTime: null, durationSeconds: null, sipCallId: `${sid}@h`,
      sipResponseCode: null, errorCode: null, errorMessage: null, endReason: null, parentCallSid: null,
    });
    live.set(sid, 'ringing');
    process.stdout.write(`C ${sid}\n`);
  }
}

for (;;) await Promise.all(Array.from({ length: 16 }, () => one()));
