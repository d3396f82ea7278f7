/**
 * Streaming 16-bit PCM WAV writer to disk, for call recordings.
 *
 * `write()` is synchronous and cheap (it copies the samples into a queue); a single background
 * pump appends the queue to the file with positional async writes, so the event loop that paces
 * RTP never waits on the disk and writes can never interleave out of order.
 *
 * Crash safety: audio goes to `<path>.part`. The RIFF and data sizes in its header are rewritten
 * (one 44-byte positional write) every `headerEveryBytes` of audio (default: one second), so a
 * process killed with SIGKILL leaves a valid WAV whose header covers all but the last second; the
 * kernel's page cache keeps what was written even though the process died (power loss is another
 * matter: data is fsync'ed only at `finish()`). `finish()` writes the final sizes, fsyncs and
 * renames to `path` (rename(2) is atomic: readers see either no file or the whole file).
 * `WavFileWriter.recover()` turns a `.part` left by a crash into a finished file.
 *
 * The layout is the canonical 44-byte header (RIFF, fmt of 16 bytes, data) so sizes sit at fixed
 * offsets 4 and 40; WAV stores 32-bit sizes, hence the ~4 GiB cap (74 hours of 8 kHz mono).
 */
import { mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import { dirname } from 'node:path';

export const WAV_HEADER_BYTES = 44;
/** Largest data chunk whose RIFF size (36 + data) still fits in 32 bits. */
export const MAX_WAV_DATA_BYTES = 0xffffffff - 36;

export type WavWriterErrorCode = 'INVALID_FORMAT' | 'INVALID_SAMPLES' | 'CLOSED' | 'TOO_LARGE' | 'EXISTS' | 'IO_FAILED' | 'CORRUPT';

export class WavWriterError extends Error {
  override readonly name = 'WavWriterError';
  constructor(
    readonly code: WavWriterErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface WavFileFormat {
  /** Frames per second, 1000–384000. */
  sampleRate: number;
  /** 1 (mono) or 2 (stereo; samples interleaved left, right). */
  channels: 1 | 2;
}

export interface WavFileWriterOptions extends WavFileFormat {
  /** Rewrite the header sizes after at least this many new data bytes (default: one second of audio). */
  headerEveryBytes?: number;
}

export interface WavFileResult {
  /** The final path (not the `.part`). */
  path: string;
  sampleRate: number;
  channels: 1 | 2;
  /** Sample frames (one sample per channel each). */
  frames: number;
  /** Audio duration, rounded to the millisecond. */
  durationMs: number;
  /** File size, header included. */
  bytes: number;
}

const LITTLE_ENDIAN_HOST = endianness() === 'LE';

function ioError(what: string, err: unknown): WavWriterError {
  return new WavWriterError('IO_FAILED', `${what}: ${(err as Error).message}`, { cause: err });
}

/** The canonical header for `dataBytes` of 16-bit PCM (RIFF/WAVE, fmt chunk of 16 bytes, data). */
export function wavHeader(format: WavFileFormat, dataBytes: number): Buffer {
  const h = Buffer.alloc(WAV_HEADER_BYTES);
  const blockAlign = format.channels * 2;
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(36 + dataBytes, 4);
  h.write('WAVE', 8, 'latin1');
  h.write('fmt ', 12, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // WAVE_FORMAT_PCM
  h.writeUInt16LE(format.channels, 22);
  h.writeUInt32LE(format.sampleRate, 24);
  h.writeUInt32LE(format.sampleRate * blockAlign, 28); // byte rate
  h.writeUInt16LE(blockAlign, 32);
  h.writeUInt16LE(16, 34); // bits per sample
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(dataBytes, 40);
  return h;
}

/** Reads back a header written by `wavHeader`; null if `h` is not one (other layouts are not ours). */
function parseOwnHeader(h: Buffer): WavFileFormat | null {
  if (h.length < WAV_HEADER_BYTES) return null;
  if (h.toString('latin1', 0, 4) !== 'RIFF' || h.toString('latin1', 8, 16) !== 'WAVEfmt ' || h.toString('latin1', 36, 40) !== 'data') return null;
  const channels = h.readUInt16LE(22);
  const sampleRate = h.readUInt32LE(24);
  if (h.readUInt32LE(16) !== 16 || h.readUInt16LE(20) !== 1 || h.readUInt16LE(34) !== 16) return null;
  if ((channels !== 1 && channels !== 2) || sampleRate < 1000 || sampleRate > 384000) return null;
  return { sampleRate, channels };
}

function checkFormat(f: WavFileFormat): void {
  if (!Number.isInteger(f.sampleRate) || f.sampleRate < 1000 || f.sampleRate > 384000) {
    throw new WavWriterError('INVALID_FORMAT', `sample rate must be an integer 1000-384000, got ${f.sampleRate}`);
  }
  if (f.channels !== 1 && f.channels !== 2) throw new WavWriterError('INVALID_FORMAT', `channels must be 1 or 2, got ${String(f.channels)}`);
}

function result(path: string, format: WavFileFormat, dataBytes: number): WavFileResult {
  const frames = dataBytes / (format.channels * 2);
  return {
    path,
    sampleRate: format.sampleRate,
    channels: format.channels,
    frames,
    durationMs: Math.round((frames * 1000) / format.sampleRate),
    bytes: WAV_HEADER_BYTES + dataBytes,
  };
}

async function writeFully(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
    done += bytesWritten;
  }
}

type WriterState = 'open' | 'finishing' | 'finished' | 'aborted';

export class WavFileWriter {
  private queue: Buffer[] = [];
  /** Data bytes accepted by write() (queued or on disk). */
  private acceptedBytes = 0;
  /** Data bytes on disk. */
  private writtenBytes = 0;
  /** Data bytes the on-disk header currently declares. */
  private headerBytes = 0;
  private pump: Promise<void> | null = null;
  private failure: WavWriterError | null = null;
  private state: WriterState = 'open';
  private closed: Promise<void> | null = null;
  private readonly headerEveryBytes: number;

  private constructor(
    /** Final path; audio is written to `partPath` until finish(). */
    readonly path: string,
    readonly partPath: string,
    private readonly fh: FileHandle,
    readonly format: WavFileFormat,
    headerEveryBytes: number,
  ) {
    this.headerEveryBytes = headerEveryBytes;
  }

  /** Creates the parent directory and `<path>.part` (which must not exist) with an empty-data header. */
  static async create(path: string, options: WavFileWriterOptions): Promise<WavFileWriter> {
    const format: WavFileFormat = { sampleRate: options.sampleRate, channels: options.channels };
    checkFormat(format);
    const every = options.headerEveryBytes ?? format.sampleRate * format.channels * 2;
    if (!Number.isInteger(every) || every < 1) throw new WavWriterError('INVALID_FORMAT', `headerEveryBytes must be a positive integer, got ${every}`);
    const partPath = `${path}.part`;
    let fh: FileHandle;
    try {
      await mkdir(dirname(path), { recursive: true });
      fh = await open(partPath, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new WavWriterError('EXISTS', `${partPath} already exists`, { cause: err });
      throw ioError(`cannot create ${partPath}`, err);
    }
    try {
      await writeFully(fh, wavHeader(format, 0), 0);
    } catch (err) {
      await fh.close().catch(() => undefined); // the write error is the one worth reporting
      await unlink(partPath).catch(() => undefined);
      throw ioError(`cannot write ${partPath}`, err);
    }
    return new WavFileWriter(path, partPath, fh, format, every);
  }

  /**
   * Appends samples (interleaved when stereo; length a multiple of `channels`). The samples are
   * copied, so the caller may reuse its array. Throws WavWriterError: 'CLOSED' after finish/abort,
   * 'INVALID_SAMPLES', 'TOO_LARGE' past the WAV size limit, or the background I/O failure if one
   * happened (later writes would only pile up behind it).
   */
  write(samples: Int16Array): void {
    if (this.failure) throw this.failure;
    if (this.state !== 'open') throw new WavWriterError('CLOSED', `recording ${this.path} is ${this.state}`);
    if (samples.length % this.format.channels !== 0) {
      throw new WavWriterError('INVALID_SAMPLES', `${samples.length} samples is not a whole number of ${this.format.channels}-channel frames`);
    }
    if (samples.length === 0) return;
    const bytes = samples.length * 2;
    if (this.acceptedBytes + bytes > MAX_WAV_DATA_BYTES) {
      throw new WavWriterError('TOO_LARGE', `recording ${this.path} would exceed the 4 GiB WAV limit`);
    }
    const chunk = Buffer.allocUnsafe(bytes);
    chunk.set(new Uint8Array(samples.buffer, samples.byteOffset, bytes));
    if (!LITTLE_ENDIAN_HOST) chunk.swap16(); // WAV is little-endian whatever the host
    this.queue.push(chunk);
    this.acceptedBytes += bytes;
    this.kick();
  }

  /** Frames accepted so far (the recording's length if it finished now). */
  get frames(): number {
    return this.acceptedBytes / (this.format.channels * 2);
  }

  /** Accepted audio in milliseconds (rounded). */
  get durationMs(): number {
    return Math.round((this.frames * 1000) / this.format.sampleRate);
  }

  /** The background I/O failure, if any (write() throws it and finish() rejects with it too). */
  get error(): WavWriterError | null {
    return this.failure;
  }

  /** Resolves when everything accepted so far is in the file (header patched per its schedule). */
  async flush(): Promise<void> {
    while (this.pump) await this.pump;
    if (this.failure) throw this.failure;
  }

  /**
   * Writes the remaining audio and the final header, fsyncs, closes and renames `.part` to `path`.
   * On failure the `.part` stays (salvageable by recover(); abort() removes it).
   */
  async finish(): Promise<WavFileResult> {
    if (this.state !== 'open') throw new WavWriterError('CLOSED', `recording ${this.path} is ${this.state}`);
    this.state = 'finishing';
    try {
      await this.flush();
      await writeFully(this.fh, wavHeader(this.format, this.writtenBytes), 0);
      await this.fh.datasync();
    } catch (err) {
      this.failure ??= err instanceof WavWriterError ? err : ioError(`cannot finish ${this.partPath}`, err);
      await this.close().catch(() => undefined); // report the write failure, not a follow-on close error
      throw this.failure;
    }
    try {
      await this.close();
      await rename(this.partPath, this.path);
    } catch (err) {
      this.failure = ioError(`cannot finish ${this.partPath}`, err);
      throw this.failure;
    }
    this.state = 'finished';
    return result(this.path, this.format, this.writtenBytes);
  }

  /** Stops writing and deletes the `.part`. Idempotent; allowed after a failed finish(); not after success. */
  async abort(): Promise<void> {
    if (this.state === 'finished') throw new WavWriterError('CLOSED', `recording ${this.path} is already finished`);
    if (this.state === 'aborted') return;
    this.state = 'aborted';
    this.queue = [];
    while (this.pump) await this.pump; // never rejects: kick() records failures instead
    await this.close().catch(() => undefined); // the file is going away; its close status does not matter
    try {
      await unlink(this.partPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw ioError(`cannot remove ${this.partPath}`, err);
    }
  }

  /**
   * Finishes a recording whose writer died (process crash): if `<path>.part` exists, drops a
   * trailing partial frame, writes the true sizes, fsyncs and renames it to `path`. If `path`
   * already exists (the crash came after the rename) it is only read. Resolves to null when
   * neither file exists; rejects with WavWriterError 'CORRUPT' when the header is not this
   * writer's (nothing is changed then).
   */
  static async recover(path: string): Promise<WavFileResult | null> {
    const partPath = `${path}.part`;
    for (const [candidate, isPart] of [[path, false], [partPath, true]] as const) {
      let fh: FileHandle;
      try {
        fh = await open(candidate, isPart ? 'r+' : 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw ioError(`cannot open ${candidate}`, err);
      }
      let res: WavFileResult;
      try {
        const header = Buffer.alloc(WAV_HEADER_BYTES);
        const { bytesRead } = await fh.read(header, 0, WAV_HEADER_BYTES, 0);
        const format = parseOwnHeader(header.subarray(0, bytesRead));
        if (!format) throw new WavWriterError('CORRUPT', `${candidate} does not start with a 16-bit PCM WAV header`);
        const size = (await fh.stat()).size;
        const blockAlign = format.channels * 2;
        const dataBytes = Math.min(MAX_WAV_DATA_BYTES - (MAX_WAV_DATA_BYTES % blockAlign), Math.floor((size - WAV_HEADER_BYTES) / blockAlign) * blockAlign);
        if (isPart) {
          await fh.truncate(WAV_HEADER_BYTES + dataBytes);
          await writeFully(fh, wavHeader(format, dataBytes), 0);
          await fh.datasync();
        } else if (header.readUInt32LE(40) !== dataBytes) {
          throw new WavWriterError('CORRUPT', `${candidate} declares ${header.readUInt32LE(40)} data bytes but holds ${dataBytes}`);
        }
        res = result(path, format, dataBytes);
      } catch (err) {
        await fh.close().catch(() => undefined); // the read/validation error is the one to report
        throw err instanceof WavWriterError ? err : ioError(`cannot recover ${candidate}`, err);
      }
      try {
        await fh.close();
        if (isPart) await rename(partPath, path);
      } catch (err) {
        throw ioError(`cannot recover ${candidate}`, err);
      }
      return res;
    }
    return null;
  }

  private kick(): void {
    if (this.pump) return;
    this.pump = this.drain().then(
      () => {
        this.pump = null;
      },
      (err: unknown) => {
        this.pump = null;
        this.failure ??= err instanceof WavWriterError ? err : ioError(`cannot write ${this.partPath}`, err);
        this.queue = [];
      },
    );
  }

  /** The only code that writes audio: one loop, so appends stay ordered and never overlap. */
  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue.length === 1 ? this.queue[0]! : Buffer.concat(this.queue);
      this.queue = [];
      await writeFully(this.fh, batch, WAV_HEADER_BYTES + this.writtenBytes);
      this.writtenBytes += batch.length;
      // The first audio gets a header at once (players trust a 0 data size as "empty"); after
      // that, once per headerEveryBytes bounds how much a crash can hide.
      if (this.headerBytes === 0 || this.writtenBytes - this.headerBytes >= this.headerEveryBytes) {
        await writeFully(this.fh, wavHeader(this.format, this.writtenBytes), 0);
        this.headerBytes = this.writtenBytes;
      }
    }
  }

  private close(): Promise<void> {
    this.closed ??= this.fh.close();
    return this.closed;
  }
}
