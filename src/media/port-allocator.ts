/**
 * RTP port allocation from a configured range (RFC 3550 §11: RTP on an even port, RTCP on the
 * next odd one).
 *
 * Allocation starts at a random even port and then walks the range round-robin, so a port just
 * released is the last to be handed out again: late packets of an ended call are less likely to
 * land in a new one.
 */

export class PortExhaustedError extends Error {
  readonly code = 'PORTS_EXHAUSTED';
  constructor(min: number, max: number) {
    super(`no free RTP port pair in ${min}-${max}`);
    this.name = 'PortExhaustedError';
  }
}

export class PortAllocator {
  readonly min: number;
  readonly max: number;
  private readonly used = new Set<number>();
  /** Index (0-based, in port pairs) of the next pair to try. */
  private cursor: number;
  private readonly pairs: number;

  constructor(min: number, max: number, random: () => number = Math.random) {
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1 || max > 65535) {
      throw new RangeError(`invalid RTP port range ${min}-${max}`);
    }
    this.min = min % 2 === 0 ? min : min + 1;
    this.max = max;
    // A pair needs both port and port+1 inside the range.
    this.pairs = Math.floor((this.max - 1 - this.min) / 2) + 1;
    if (this.pairs < 1) throw new RangeError(`RTP port range ${min}-${max} holds no even/odd pair`);
    this.cursor = Math.floor(random() * this.pairs) % this.pairs;
  }

  /** Number of pairs currently allocated. */
  get inUse(): number {
    return this.used.size;
  }

  /** Number of pairs the range holds. */
  get capacity(): number {
    return this.pairs;
  }

  /** An even RTP port whose RTCP port is port+1. Throws PortExhaustedError when none is free. */
  allocate(): number {
    for (let i = 0; i < this.pairs; i++) {
      const idx = (this.cursor + i) % this.pairs;
      const port = this.min + idx * 2;
      if (!this.used.has(port)) {
        this.used.add(port);
        this.cursor = (idx + 1) % this.pairs;
        return port;
      }
    }
    throw new PortExhaustedError(this.min, this.max);
  }

  /** Return a port from `allocate`. Releasing a port that is not allocated is a bug and throws. */
  release(port: number): void {
    if (!this.used.delete(port)) throw new RangeError(`RTP port ${port} is not allocated`);
  }
}
