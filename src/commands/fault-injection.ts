/**
 * Named fault-injection points for crash tests. Off unless SNAPLEDGER_FAULTS names them, e.g.
 * SNAPLEDGER_FAULTS=after-append:DomainSaved kills the process with SIGKILL right after the
 * first DomainSaved event is stored. Documented in docs/operations.md.
 */
export class FaultInjector {
  private readonly armed: Set<string>;

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
}

export const FAULT_INJECTOR = Symbol('FaultInjector');
