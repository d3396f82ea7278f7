/**
 * Twilio's TimeLimit: the longest an answered call may last, counted from the answer. It can be
 * set before the answer (REST create) or changed during the call (REST update); the timer only
 * runs while the call is answered and is cleared when it ends.
 */
export class CallTimeLimit {
  private seconds: number | null = null;
  private answeredAt: number | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly expire: (seconds: number) => void) {}

  set(seconds: number): void {
    this.seconds = seconds;
    this.arm();
  }

  answered(at: Date): void {
    this.answeredAt = at.getTime();
    this.arm();
  }

  clear(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.seconds = null;
  }

  private arm(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const seconds = this.seconds;
    if (seconds === null || this.answeredAt === null) return;
    const left = Math.max(0, seconds * 1000 - (Date.now() - this.answeredAt));
    this.timer = setTimeout(() => this.expire(seconds), left);
    this.timer.unref();
  }
}
