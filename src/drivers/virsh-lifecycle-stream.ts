import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import type { DomainLifecycleEvents, LifecycleNotice } from './domain-lifecycle.port';
import { parseLifecycleLine } from './virsh-event.parser';

/**
 * util-linux's setpriv, to start virsh with a parent-death signal: a service killed with
 * SIGKILL must not leave its `virsh event` behind. Orphaned event clients pile up in
 * libvirtd, and with a dozen of them `virsh blockcopy --wait` was seen to miss the block
 * job's ready event and hang. setpriv execs virsh, so the PID stays the child's.
 */
const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((path) => existsSync(path)) ?? null;
/** First wait before starting virsh again after it exited; doubled up to the maximum. */
const RESTART_FIRST_MS = 250;
const RESTART_MAX_MS = 5_000;
/** virsh that has not exited after this long has connected. */
const UP_AFTER_MS = 1_000;

export interface LifecycleStreamLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/**
 * The host's libvirt lifecycle events, from one long-running
 * `virsh event --all --loop --timestamp` (execa, argument array). Every listener hears every
 * event. If virsh exits (libvirtd restarted, the connection dropped) it is started again with
 * back-off, and once it is up again listeners are told of the gap: events may have been
 * missed meanwhile, so they look at libvirt afresh.
 *
 * No maintained libvirt binding for Node 20 exists (the `libvirt` npm packages are
 * unmaintained native add-ons), so virsh it is, like the rest of the driver.
 */
export class VirshLifecycleStream implements DomainLifecycleEvents {
  private readonly listeners = new Set<(notice: LifecycleNotice) => void>();
  private child: ResultPromise | null = null;
  private running = false;
  private loop: Promise<void> | null = null;
  private readonly stopped = new AbortController();

  constructor(
    private readonly uri: string,
    private readonly logger?: LifecycleStreamLogger,
  ) {}

  subscribe(listener: (notice: LifecycleNotice) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Starts following libvirt; returns once virsh has been started. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.follow();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.stopped.abort();
    this.child?.kill('SIGTERM');
    await this.loop;
  }

  private async follow(): Promise<void> {
    let backoff = RESTART_FIRST_MS;
    /** Why the previous run ended, while the stream is down; null while it is up. */
    let down: string | null = null;
    while (this.running) {
      const startedAt = Date.now();
      const reason = await this.runOnce(() => {
        // Up again after an interruption: events may have been missed meanwhile.
        if (down === null) return;
        this.logger?.info({ after: down }, 'libvirt event stream is back');
        this.publish({ kind: 'gap', at: new Date(), reason: down });
        down = null;
      });
      if (!this.running) return;
      if (down === null)
        this.logger?.warn({ reason }, 'libvirt event stream ended; following it again');
      down = reason;
      // A stream that ran a while before it died starts again at once.
      if (Date.now() - startedAt > RESTART_MAX_MS) backoff = RESTART_FIRST_MS;
      await delay(backoff, undefined, { signal: this.stopped.signal }).catch(() => undefined);
      backoff = Math.min(backoff * 2, RESTART_MAX_MS);
    }
  }

  /**
   * Runs virsh until it exits; returns why it ended. `onUp` is called once it has stayed up
   * for UP_AFTER_MS (virsh prints nothing when it has connected, but exits at once when it
   * cannot).
   */
  private async runOnce(onUp: () => void): Promise<string> {
    const virsh = ['-q', '-c', this.uri, 'event', '--all', '--loop', '--timestamp'];
    const file = SETPRIV ?? 'virsh';
    const args = SETPRIV ? ['--pdeathsig', 'KILL', '--', 'virsh', ...virsh] : virsh;
    const child = execa(file, args, {
      reject: false,
      buffer: false,
      stdin: 'ignore',
      stderr: 'pipe',
      env: { LC_ALL: 'C', LANG: 'C', LANGUAGE: '' },
    });
    this.child = child;
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      if (stderr.length < 2000) stderr += chunk.toString();
    });
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.on('line', (line) => {
      const event = parseLifecycleLine(line);
      if (event) this.publish({ kind: 'event', event });
    });
    const up = setTimeout(onUp, UP_AFTER_MS);
    const result = await child;
    clearTimeout(up);
    lines.close();
    this.child = null;
    const detail = stderr.trim();
    return `virsh event exited (${result.exitCode ?? result.signal ?? 'unknown'})${detail ? `: ${detail}` : ''}`;
  }

  private publish(notice: LifecycleNotice): void {
    for (const listener of this.listeners) {
      try {
        listener(notice);
      } catch (error) {
        this.logger?.warn({ err: error }, 'a libvirt event listener failed');
      }
    }
  }
}
