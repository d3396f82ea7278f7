import { it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PgliteStore } from '../../src/store/pglite-store.js';
import { newSid } from '../../src/ids.js';

const WRITER = fileURLToPath(new URL('./kill9-writer.ts', import.meta.url));
const ORDER = ['ringing', 'in-progress', 'completed'];

it('every acknowledged write survives SIGKILL of the writing process', { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'patchbay-kill9-'));
  const accountSid = newSid('AC');
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dir, accountSid], { stdio: ['ignore', 'pipe', 'inherit'] });
    const created = new Set<string>();
    const status = new Map<string, string>();
    const events = new Map<string, number>();
    const finished = new Set<string>();
    let acks = 0;
    let buf = '';
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const [kind, sid, value] = buf.slice(0, nl).split(' ');
        buf = buf.slice(nl + 1);
        if (kind === 'C') created.add(sid!);
        else if (kind === 'U') status.set(sid!, value!);
        else if (kind === 'E') events.set(sid!, (events.get(sid!) ?? 0) + 1);
        else if (kind === 'F') finished.add(sid!);
        if (kind !== 'READY') acks++;
        // Kill mid-stream, with writes certainly in flight.
        if (acks === 1500) child.kill('SIGKILL');
      }
    });
    assert.equal(await exited, 'SIGKILL', 'the writer must die by SIGKILL, not exit on its own');
    assert.ok(created.size > 100 && status.size > 50, `enough acknowledged writes (${created.size} creates, ${status.size} updates)`);

    const store = await PgliteStore.open(dir);
    try {
      const all = new Map<string, { status: string }>();
      let token: string | undefined;
      do {
        const page = await store.listCalls({ accountSid, pageSize: 1000, pageToken: token });
        for (const c of page.calls) all.set(c.sid, c);
        token = page.nextPageToken ?? undefined;
      } while (token);
      for (const sid of created) assert.ok(all.has(sid), `acknowledged create ${sid} is missing`);
      for (const [sid, acked] of status) {
        const stored = all.get(sid)?.status ?? 'missing';
        assert.ok(ORDER.indexOf(stored) >= ORDER.indexOf(acked), `${sid}: acknowledged ${acked}, stored ${stored}`);
      }
      // finishCall is all or nothing: every stored 'completed' call has its three final events,
      // whether or not its acknowledgement got out before the kill.
      let completed = 0;
      for (const [sid, c] of all) {
        if (c.status !== 'completed') continue;
        completed++;
        const got = await store.getCall(accountSid, sid);
        assert.equal(got?.events.filter((e) => e.type === 'final').length, 3, `${sid} completed without its final events`);
      }
      for (const sid of finished) assert.equal(all.get(sid)?.status, 'completed', `acknowledged finish of ${sid} lost`);
      assert.ok(completed >= finished.size && finished.size > 10, `enough finished calls (${finished.size})`);
      for (const [sid, n] of events) {
        const got = await store.getCall(accountSid, sid);
        assert.ok((got?.events.length ?? 0) >= n, `${sid}: ${n} event appends acknowledged, ${got?.events.length} stored`);
      }
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
