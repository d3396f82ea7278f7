// Child process for wav-file-writer.test.ts: records a deterministic pattern into a WavFileWriter
// as fast as the disk allows, printing "W <frames>" after each flush resolved (those frames are in
// the file), until the parent SIGKILLs it. Never finishes: the parent inspects the `.part`.
import { WavFileWriter } from '../../src/media/wav-file-writer.js';

const [path, rate] = process.argv.slice(2);
if (!path || !rate) throw new Error('usage: wav-kill9-writer <path> <sampleRate>');
const writer = await WavFileWriter.create(path, { sampleRate: Number(rate), channels: 1 });
process.stdout.write('READY\n');

const FRAME = 160; // 20 ms at 8 kHz
let n = 0;
for (;;) {
  const chunk = new Int16Array(FRAME);
  for (let i = 0; i < FRAME; i++, n++) chunk[i] = ((n * 37) % 65536) - 32768;
  writer.write(chunk);
  if (n % (FRAME * 10) === 0) {
    await writer.flush();
    process.stdout.write(`W ${writer.frames}\n`);
  }
}
