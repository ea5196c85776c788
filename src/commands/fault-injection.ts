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
 * - `after-append:TaskStateChanged:<to>` does so after the task state moved to `<to>` (a task
 *   state, or `none` for the release), so each transition can be a kill point of its own;
 * - `kill-during:<operation>[@<ms>]` kills it `<ms>` (default 300) after a driver operation
 *   began, while that call is in flight (`save`, `convert`, `mirror`, `restore`); if the
 *   operation ends first, it kills at the operation's end, before its event is stored;
 * - `kill-at:<point>` kills it at a named point inside an operation (`commit-settled`,
 *   `commit-renamed`: see LocalImageStore.commit);
 * - `fail:<action>` makes that saga action fail permanently, every time;
 * - `fail-once:<action>` makes it fail transiently, the first time only;
 * - `stall:<action>[@<ms>]` waits `<ms>` (default 3000) before that saga action, every time,
 *   so a test can change the world (destroy the domain, stop libvirtd) at a known step.
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

  /** The after-append points of stored events: by type, and by task-state transition. */
  afterAppend(events: readonly { type: string; data: unknown }[]): void {
    for (const e of events) {
      this.hit(`after-append:${e.type}`);
      if (e.type === 'TaskStateChanged') {
        const to = (e.data as { to?: string | null } | null)?.to;
        this.hit(`after-append:TaskStateChanged:${to ?? 'none'}`);
      }
    }
  }

  /**
   * Runs a driver operation; if `kill-during:<operation>[@<ms>]` is armed, the process is
   * SIGKILLed `<ms>` after it began (while the call is in flight), or when it ends if it
   * ends sooner. The child processes it spawned (virsh, qemu-img) are left running, as a
   * real crash leaves them.
   */
  async during<T>(operation: string, work: () => Promise<T>): Promise<T> {
    const armed = [...this.armed].find(
      (p) => p === `kill-during:${operation}` || p.startsWith(`kill-during:${operation}@`),
    );
    if (armed === undefined) return work();
    const ms = Number(armed.split('@')[1] ?? DEFAULT_KILL_DURING_MS);
    const delayMs = Number.isFinite(ms) && ms >= 0 ? ms : DEFAULT_KILL_DURING_MS;
    const kill = (when: string) => {
      process.stderr.write(
        `snapledger: fault injection point ${armed} reached ${when}, killing process\n`,
      );
      process.kill(process.pid, 'SIGKILL');
    };
    const timer = setTimeout(() => kill(`in flight after ${delayMs} ms`), delayMs);
    try {
      return await work();
    } finally {
      clearTimeout(timer);
      kill('when the operation ended first');
    }
  }

  /** Waits before a saga action if `stall:<action>[@<ms>]` is armed. */
  async stallIfArmed(action: string): Promise<void> {
    const armed = [...this.armed].find(
      (p) => p === `stall:${action}` || p.startsWith(`stall:${action}@`),
    );
    if (armed === undefined) return;
    const ms = Number(armed.split('@')[1] ?? DEFAULT_STALL_MS);
    await new Promise((resolve) =>
      setTimeout(resolve, Number.isFinite(ms) && ms >= 0 ? ms : DEFAULT_STALL_MS),
    );
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

/** Default delay of `kill-during:<operation>`: mid-way through a managedsave (1.3-1.9 s). */
const DEFAULT_KILL_DURING_MS = 300;

/** Default wait of `stall:<action>`. */
const DEFAULT_STALL_MS = 3000;

export const FAULT_INJECTOR = Symbol('FaultInjector');
