/**
 * Decides which qemu-img progress reports are written to the log: the first one, then at
 * most one per interval. With the default interval of 1 s the read side sees progress well
 * within 2 s, without an event per percent.
 */
export class ProgressThrottle {
  private last: number | null = null;

  constructor(
    private readonly intervalMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  /** True when this report should be recorded. */
  admit(): boolean {
    const t = this.now();
    if (this.last !== null && t - this.last < this.intervalMs) return false;
    this.last = t;
    return true;
  }
}
