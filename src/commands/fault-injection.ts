/** An error raised on purpose at a fault-injection point. */
export class InjectedFaultError extends Error {
  constructor(
    readonly point: string,
    /** Permanent faults fail the snapshot at once; transient ones are retried. */
    readonly permanent: boolean,
  ) {
    super(`injected ${permanent ? 'permanent' : 'transient'} fault at ${point}`);
    this.name = 'InjectedFaultError';
  }
}

/**
 * Named fault-injection points for crash and failure tests. Off unless SNAPLEDGER_FAULTS
 * names them (comma-separated):
 * - `after-append:<EventType>` kills the process with SIGKILL right after such an event is stored;
 * - `fail:<action>` makes that saga action fail permanently, every time;
 * - `fail-once:<action>` makes it fail transiently, the first time only.
 * Documented in docs/operations.md.
 */
export class FaultInjector {
  private readonly armed: Set<string>;
  private readonly fired = new Set<string>();

  constructor(points: readonly string[]) {
    this.armed = new Set(points);
  }

  get enabled(): boolean {
    return this.armed.size > 0;
  }

  /** Kills this process at once if the point is armed. */
  hit(point: string): void {
    if (!this.armed.has(point)) return;
    process.stderr.write(`snapledger: fault injection point ${point} reached, killing process\n`);
    process.kill(process.pid, 'SIGKILL');
  }

  /** Throws an InjectedFaultError if `fail:<action>` or (once) `fail-once:<action>` is armed. */
  failIfArmed(action: string): void {
    if (this.armed.has(`fail:${action}`)) throw new InjectedFaultError(`fail:${action}`, true);
    const once = `fail-once:${action}`;
    if (this.armed.has(once) && !this.fired.has(once)) {
      this.fired.add(once);
      throw new InjectedFaultError(once, false);
    }
  }
}

export const FAULT_INJECTOR = Symbol('FaultInjector');
