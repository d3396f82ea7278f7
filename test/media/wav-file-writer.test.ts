import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, appendFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { decodeWav } from '../../src/media/wav.js';
import { WavFileWriter, WavWriterError, wavHeader, WAV_HEADER_BYTES } from '../../src/media/wav-file-writer.js';

/** The same deterministic pattern as wav-kill9-writer.ts: sample n of the recording. */
const pattern = (n: number) => ((n * 37) % 65536) - 32768;

function chunkOf(start: number, length: number): Int16Array {
  const c = new Int16Array(length);
  for (let i = 0; i < length; i++) c[i] = pattern(start + i);
  return c;
}

/** Decoded channel back to the int16 values that were written. */
function toInt16(ch: Float32Array): number[] {
  return Array.from(ch, (v) => Math.round(v * 32768));
}

function assertPatternPrefix(samples: number[], what: string): void {
  for (let i = 0; i < samples.length; i++) {
    if (samples[i] !== pattern(i)) assert.fail(`${what}: sample ${i} is ${samples[i]}, expected ${pattern(i)}`);
  }
}

const isWriterError = (code: string) => (err: unknown) => err instanceof WavWriterError && err.code === code;

describe('WavFileWriter', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'patchbay-wavw-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a mono recording to <path>.part, then finishes it at <path> as a playable WAV', async () => {
    const path = join(dir, 'sub', 'dir', 'mono.wav');
    const w = await WavFileWriter.create(path, { sampleRate: 8000, channels: 1 });
    assert.ok(existsSync(`${path}.part`), 'the .part exists from the start');
    assert.ok(!existsSync(path));
    for (let i = 0; i < 50; i++) w.write(chunkOf(i * 160, 160)); // 1 s
    assert.equal(w.frames, 8000);
    assert.equal(w.durationMs, 1000);
    const res = await w.finish();
    assert.deepEqual(res, { path, sampleRate: 8000, channels: 1, frames: 8000, durationMs: 1000, bytes: WAV_HEADER_BYTES + 16000 });
    assert.ok(!existsSync(`${path}.part`), 'the .part is renamed away');
    const file = readFileSync(path);
    assert.equal(file.length, res.bytes);
    assert.deepEqual(file.subarray(0, 44), wavHeader({ sampleRate: 8000, channels: 1 }, 16000));
    const audio = decodeWav(file);
    assert.equal(audio.sampleRate, 8000);
    assert.equal(audio.channels, 1);
    assert.equal(audio.samples[0]!.length, 8000);
    assertPatternPrefix(toInt16(audio.samples[0]!), 'mono');
  });

  it('writes stereo as interleaved frames (left, right)', async () => {
    const path = join(dir, 'stereo.wav');
    const w = await WavFileWriter.create(path, { sampleRate: 16000, channels: 2 });
    const frames = 4000;
    const inter = new Int16Array(frames * 2);
    for (let i = 0; i < frames; i++) {
      inter[2 * i] = pattern(i);
      inter[2 * i + 1] = -pattern(i) - 1; // a different, still in-range, right channel
    }
    w.write(inter.subarray(0, 1000)); // a subarray with an offset must work too
    w.write(inter.subarray(1000));
    const res = await w.finish();
    assert.equal(res.frames, frames);
    assert.equal(res.durationMs, 250);
    const audio = decodeWav(readFileSync(path));
    assert.equal(audio.channels, 2);
    assert.equal(audio.sampleRate, 16000);
    assertPatternPrefix(toInt16(audio.samples[0]!), 'left');
    assert.deepEqual(toInt16(audio.samples[1]!), Array.from({ length: frames }, (_, i) => -pattern(i) - 1));
  });

  it('copies the samples: the caller may reuse its array at once', async () => {
    const path = join(dir, 'reuse.wav');
    const w = await WavFileWriter.create(path, { sampleRate: 8000, channels: 1 });
    const buf = new Int16Array(160);
    for (let k = 0; k < 20; k++) {
      buf.set(chunkOf(k * 160, 160));
      w.write(buf);
      buf.fill(0); // would corrupt the file if the writer kept a reference
    }
    await w.finish();
    assertPatternPrefix(toInt16(decodeWav(readFileSync(path)).samples[0]!), 'reuse');
  });

  it('keeps order under many concurrent writes, flushes and finish (one writer loop, no overlapping writes)', async () => {
    const path = join(dir, 'concurrent.wav');
    const w = await WavFileWriter.create(path, { sampleRate: 8000, channels: 1, headerEveryBytes: 1000 });
    let n = 0;
    const tasks: Promise<void>[] = [];
    // 20 "producers" interleave across event-loop turns while flushes run in the background.
    for (let p = 0; p < 20; p++) {
      tasks.push((async () => {
        for (let k = 0; k < 25; k++) {
          const len = 1 + ((p * 7 + k * 13) % 97); // uneven sizes
          w.write(chunkOf(n, len));
          n += len;
          if (k % 5 === 0) await new Promise<void>((r) => setImmediate(r));
          if (k % 7 === 3) void w.flush();
        }
      })());
    }
    await Promise.all(tasks);
    const res = await w.finish();
    assert.equal(res.frames, n);
    const samples = toInt16(decodeWav(readFileSync(path)).samples[0]!);
    assert.equal(samples.length, n);
    assertPatternPrefix(samples, 'concurrent');
  });

  it('simulated crash: an unfinished .part is a playable prefix, its header at most headerEveryBytes behind', async () => {
    const path = join(dir, 'crash.wav');
    const w = await WavFileWriter.create(path, { sampleRate: 8000, channels: 1 }); // header every 16000 bytes
    const part = `${path}.part`;
    // Before any audio: a valid, empty WAV.
    assert.equal(decodeWav(readFileSync(part)).samples[0]!.length, 0);

    let n = 0;
    for (let k = 0; k < 125; k++) { // 2.5 s in 20 ms frames, each flushed: a live call's pace
      w.write(chunkOf(n, 160));
      n += 160;
      await w.flush();
      const file = readFileSync(part);
      const declared = file.readUInt32LE(40);
      assert.equal(file.readUInt32LE(4), 36 + declared, 'RIFF size agrees with the data size');
      assert.equal(file.length, WAV_HEADER_BYTES + n * 2, 'all flushed audio is in the file');
      assert.ok(declared > 0, 'the first audio is declared at once');
      assert.ok(n * 2 - declared < 16000, `header lags ${n * 2 - declared} bytes, at most one second`);
    }
    // "kill -9" now: nothing more runs in the writer. A reader sees a WAV of the declared prefix.
    const crashed = readFileSync(part);
    const prefix = toInt16(decodeWav(crashed).samples[0]!);
    assert.equal(prefix.length, crashed.readUInt32LE(40) / 2);
    assert.ok(prefix.length >= 12000, `at least 1.5 s of the 2.5 s is declared (got ${prefix.length} frames)`);
    assertPatternPrefix(prefix, 'crash prefix');

    // Start-up recovery declares everything that reached the file and renames it.
    const rec = await WavFileWriter.recover(path);
    assert.deepEqual(rec, { path, sampleRate: 8000, channels: 1, frames: n, durationMs: 2500, bytes: WAV_HEADER_BYTES + n * 2 });
    assert.ok(!existsSync(part));
    const all = toInt16(decodeWav(readFileSync(path)).samples[0]!);
    assert.equal(all.length, n);
    assertPatternPrefix(all, 'recovered');
    await w.abort(); // releases the handle; the .part is already gone
  });

  it('kill -9 of a real writing process leaves a .part that decodeWav and sox read as a prefix, and recover() completes', async () => {
    const path = join(dir, 'kill9.wav');
    const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'wav-kill9-writer.ts'), path, '8000'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let acked = 0;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const lines = createInterface({ input: child.stdout! });
    for await (const line of lines) {
      const m = /^W (\d+)$/.exec(line);
      if (m) acked = Number(m[1]);
      if (acked >= 8000 * 5) break; // 5 s of audio on disk
    }
    child.kill('SIGKILL');
    await exited;
    assert.equal(child.signalCode, 'SIGKILL');
    assert.ok(!existsSync(path));
    const file = readFileSync(`${path}.part`);
    const declaredFrames = file.readUInt32LE(40) / 2;
    const prefix = toInt16(decodeWav(file).samples[0]!);
    assert.equal(prefix.length, declaredFrames);
    assert.ok(declaredFrames >= acked - 8000, `declared ${declaredFrames} frames, acknowledged ${acked}: at most 1 s behind`);
    assertPatternPrefix(prefix, 'kill -9 prefix');

    // An independent reader: sox counts exactly the declared samples.
    const copy = join(dir, 'kill9-copy.wav');
    copyFileSync(`${path}.part`, copy);
    const { stdout } = await promisify(execFile)('soxi', ['-s', copy]);
    assert.equal(Number(stdout.trim()), declaredFrames);

    const rec = await WavFileWriter.recover(path);
    assert.ok(rec && rec.frames >= acked, `recovered ${rec?.frames} frames, acknowledged ${acked}`);
    const all = toInt16(decodeWav(readFileSync(path)).samples[0]!);
    assert.equal(all.length, rec.frames);
    assertPatternPrefix(all, 'kill -9 recovered');
  });

  it('recover(): trailing partial frame dropped; finished file only read; missing is null; foreign header is CORRUPT', async () => {
    const path = join(dir, 'partial.wav');
    const w = await WavFileWriter.create(path, { sampleRate: 8000, channels: 2 });
    w.write(chunkOf(0, 200)); // 100 stereo frames
    await w.flush();
    appendFileSync(`${path}.part`, Buffer.from([1, 2, 3])); // a torn final frame (3 of 4 bytes)
    const rec = await WavFileWriter.recover(path);
    assert.equal(rec?.frames, 100);
    assert.equal(statSync(path).size, WAV_HEADER_BYTES + 400);
    assert.equal(decodeWav(readFileSync(path)).samples[1]!.length, 100);
    await w.abort();

    // Crash after the rename: the final file is reported as it is, untouched.
    const before = readFileSync(path);
    assert.deepEqual(await WavFileWriter.recover(path), rec);
    assert.deepEqual(readFileSync(path), before);

    assert.equal(await WavFileWriter.recover(join(dir, 'never.wav')), null);

    const foreign = join(dir, 'foreign.wav');
    writeFileSync(`${foreign}.part`, Buffer.from('this is not a wav file at all, it is text, long enough for a header'));
    await assert.rejects(WavFileWriter.recover(foreign), isWriterError('CORRUPT'));
    assert.ok(existsSync(`${foreign}.part`), 'nothing is changed on a corrupt file');
  });

  it('rejects misuse with coded errors', async () => {
    await assert.rejects(WavFileWriter.create(join(dir, 'bad1.wav'), { sampleRate: 0, channels: 1 }), isWriterError('INVALID_FORMAT'));
    await assert.rejects(WavFileWriter.create(join(dir, 'bad2.wav'), { sampleRate: 8000, channels: 3 as 1 }), isWriterError('INVALID_FORMAT'));

    const path = join(dir, 'misuse.wav');
    const w = await WavFileWriter.create(path, { sampleRate: 8000, channels: 2 });
    await assert.rejects(WavFileWriter.create(path, { sampleRate: 8000, channels: 2 }), isWriterError('EXISTS'));
    assert.throws(() => w.write(new Int16Array(3)), isWriterError('INVALID_SAMPLES'));
    w.write(new Int16Array(4));
    const res = await w.finish();
    assert.equal(res.frames, 2);
    assert.throws(() => w.write(new Int16Array(2)), isWriterError('CLOSED'));
    await assert.rejects(w.finish(), isWriterError('CLOSED'));
    await assert.rejects(w.abort(), isWriterError('CLOSED'));
    assert.ok(existsSync(path), 'a finished recording is never removed by abort');
  });

  it('abort() stops writing and removes the .part; idempotent', async () => {
    const path = join(dir, 'aborted.wav');
    const w = await WavFileWriter.create(path, { sampleRate: 8000, channels: 1 });
    w.write(chunkOf(0, 8000));
    const aborting = w.abort(); // while the write may still be in flight
    assert.throws(() => w.write(chunkOf(0, 160)), isWriterError('CLOSED'));
    await aborting;
    await w.abort();
    assert.ok(!existsSync(`${path}.part`));
    assert.ok(!existsSync(path));
    await assert.rejects(w.finish(), isWriterError('CLOSED'));
  });
});
