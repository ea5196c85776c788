import { randomUUID } from 'node:crypto';
import type { CommandBus } from '@nestjs/cqrs';
import { SYSTEM_ACTOR } from '../events';
import {
  SyncInstancesCommand,
  type KnownInstances,
  type SyncInstancesResult,
} from '../commands/sync-instances.command';
import type { DomainLifecycleEvents, LifecycleNotice } from '../drivers/domain-lifecycle.port';

/** How often names whose change waits for a snapshot to end are looked at again. */
const DEFERRED_CHECK_MS = 1_000;
/** First wait before a failed full sync is tried again; doubled up to the maximum. */
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 10_000;

export interface FollowerLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/**
 * Keeps the instances in step with libvirt as it happens (Nova's power-state sync, but
 * driven by events). Each lifecycle event names a domain: that domain alone is synced at once
 * (SyncInstancesCommand with the name), so a start, shutdown, suspend, managed save,
 * define or undefine done outside snapledger is in the log within a second. While a snapshot
 * holds the instance, its own saves and restores are part of its story: the domain is looked
 * at again only once the snapshot has released it. When the event stream was interrupted
 * (libvirtd restarted), and every `intervalMs` as a safety net, everything is synced.
 * Syncs run one at a time.
 */
export class InstanceFollower {
  private unsubscribe: (() => void) | null = null;
  private readonly pending = new Set<string>();
  private readonly deferred = new Set<string>();
  private fullSyncWanted = false;
  private chain: Promise<void> = Promise.resolve();
  private scheduled = false;
  private timers: NodeJS.Timeout[] = [];
  private retryMs = RETRY_FIRST_MS;
  private stopped = false;

  constructor(
    private readonly events: DomainLifecycleEvents,
    private readonly commands: CommandBus,
    private readonly known: KnownInstances,
    private readonly logger: FollowerLogger,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.stopped = false;
    this.unsubscribe = this.events.subscribe((notice) => this.onNotice(notice));
    this.timers.push(setInterval(() => this.checkDeferred(), DEFERRED_CHECK_MS).unref());
    if (this.intervalMs > 0) {
      this.timers.push(setInterval(() => this.wantFullSync(), this.intervalMs).unref());
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    await this.chain;
  }

  private onNotice(notice: LifecycleNotice): void {
    if (notice.kind === 'gap') this.wantFullSync();
    else this.pending.add(notice.event.domain);
    this.schedule();
  }

  private wantFullSync(): void {
    this.fullSyncWanted = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled || this.stopped) return;
    this.scheduled = true;
    this.chain = this.chain.then(() => this.drain());
  }

  /** Syncs what is waiting: everything if a full sync is wanted, else each named domain. */
  private async drain(): Promise<void> {
    this.scheduled = false;
    if (this.stopped) return;
    if (this.fullSyncWanted) {
      this.fullSyncWanted = false;
      this.pending.clear();
      try {
        const result = await this.sync(undefined);
        this.retryMs = RETRY_FIRST_MS;
        this.logger.info(summary(result), 'libvirt instances synced');
      } catch (error) {
        // libvirtd may still be coming back: try again, a little later each time.
        this.logger.warn({ err: error, retryMs: this.retryMs }, 'libvirt sync failed; will retry');
        const timer = setTimeout(() => this.wantFullSync(), this.retryMs).unref();
        this.timers.push(timer);
        this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
      }
      return;
    }
    const names = [...this.pending];
    this.pending.clear();
    for (const name of names) {
      if (this.stopped) return;
      try {
        // The snapshot's own saves and restores are its story; look again once it is done.
        if (await this.known.isHeld(name)) {
          this.deferred.add(name);
          continue;
        }
        const result = await this.sync(name);
        if (result.deferred.length > 0) this.deferred.add(name);
      } catch (error) {
        this.logger.warn({ err: error, domain: name }, 'libvirt sync of one domain failed');
        this.wantFullSync();
      }
    }
  }

  /** Domains whose change waited for a snapshot: synced once it has released them. */
  private checkDeferred(): void {
    if (this.deferred.size === 0 || this.stopped) return;
    void (async () => {
      for (const name of [...this.deferred]) {
        const held = await this.known.isHeld(name).catch(() => true);
        if (held) continue;
        this.deferred.delete(name);
        this.pending.add(name);
      }
      if (this.pending.size > 0) this.schedule();
    })();
  }

  private sync(domain: string | undefined): Promise<SyncInstancesResult> {
    return this.commands.execute<SyncInstancesCommand, SyncInstancesResult>(
      new SyncInstancesCommand({ actor: SYSTEM_ACTOR, requestId: `req-${randomUUID()}` }, domain),
    );
  }
}

function summary(result: SyncInstancesResult): object {
  return {
    seen: result.seen,
    registered: result.registered.length,
    synced: result.synced.length,
    restored: result.restored.length,
    deleted: result.deleted.length,
    deferred: result.deferred.length,
    outOfScope: result.outOfScope.length,
  };
}
