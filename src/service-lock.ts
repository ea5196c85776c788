import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * <data dir>/serve.pid names the `snapledger serve` process that owns the data directory.
 * A second server, or a projection rebuild, refuses to run while that process is alive: both
 * would write the same views.
 */
export class ServiceLock {
  private readonly path: string;

  constructor(dataDir: string) {
    this.path = join(dataDir, 'serve.pid');
  }

  /** The pid of a live server on this data directory, or null. */
  holder(): number | null {
    let pid: number;
    try {
      pid = Number(readFileSync(this.path, 'utf8').trim());
    } catch {
      return null;
    }
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return null;
    try {
      process.kill(pid, 0); // signal 0: only asks whether the process exists
      return pid;
    } catch {
      return null; // a stale file from a server that died
    }
  }

  /** Throws if another live process holds the data directory. */
  assertFree(what: string): void {
    const pid = this.holder();
    if (pid !== null)
      throw new Error(
        `${what}: snapledger serve (pid ${pid}) is using this data directory; stop it first`,
      );
  }

  acquire(): void {
    this.assertFree('cannot start');
    mkdirSync(dirname(this.path), { recursive: true, mode: 0o700 });
    writeFileSync(this.path, `${process.pid}\n`, { mode: 0o600 });
  }

  release(): void {
    if (this.holder() === null) rmSync(this.path, { force: true });
  }
}
