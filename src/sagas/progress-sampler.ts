/**
 * Holds the newest qemu-img progress report between samples. The saga samples it once a
 * second while a conversion runs and writes a progress event only when the value moved, so
 * the read side is never more than a second behind, with no event per percent.
 */
export class ProgressSampler {
  private latest: number | null = null;
  private lastTaken: number | null = null;

  report(percent: number): void {
    if (Number.isFinite(percent)) this.latest = percent;
  }

  /** The newest report if it changed since the last sample, else null. */
  take(): number | null {
    if (this.latest === null || this.latest === this.lastTaken) return null;
    this.lastTaken = this.latest;
    return this.latest;
  }
}
