import { In, type DataSource, type EntityManager } from 'typeorm';
import {
  subscribeFromCheckpoint,
  type CheckpointedSubscription,
  type SubscriptionFailure,
} from '../event-store/checkpointed-subscription';
import type { EventStore } from '../event-store/event-store.port';
import type { RecordedEvent } from '../events/recorded-event';
import { AuditLogProjection } from './audit-log.projection';
import { ProjectionCheckpoint } from './entities/projection-checkpoint.entity';
import { ImageViewProjection } from './image-view.projection';
import { InstanceActionsProjection } from './instance-actions.projection';
import { InstanceViewProjection } from './instance-view.projection';
import type { Projection } from './projection';
import { SnapshotHistoryProjection } from './snapshot-history.projection';
import { inBulkLoad } from './bulk-load';

/** pino-compatible. */
export interface ProjectionRunnerLogger {
  info(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ProjectionRunnerOptions {
  /** First back-off after a failed event, doubled on each failure up to maxRetryDelayMs. Default 250. */
  readonly retryDelayMs?: number;
  /** Default 10 000. */
  readonly maxRetryDelayMs?: number;
  /** Events per transaction during rebuild(). Default 1000. */
  readonly rebuildBatchSize?: number;
}

/**
 * The snapledger read models, in the order they must be applied: the audit log and the
 * snapshot history read instance_view / image_view rows as they stand at each event.
 */
export function createViewProjections(): Projection[] {
  return [
    new InstanceViewProjection(),
    new ImageViewProjection(),
    new SnapshotHistoryProjection(),
    new AuditLogProjection(),
    new InstanceActionsProjection(),
  ];
}

const silentLogger: ProjectionRunnerLogger = { info: () => undefined, error: () => undefined };

interface Waiter {
  readonly position: number;
  readonly resolve: (applied: boolean) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * Feeds projections from a checkpointed subscription of the event store, from the lowest of
 * their checkpoints.
 *
 * Each event is applied in ONE transaction: every projection whose checkpoint is behind
 * the event applies it and moves its checkpoint to the event's position, in the same
 * transaction as its rows. A crash or an error therefore never leaves rows without their
 * checkpoint, or the reverse: each projection sees each event exactly once.
 *
 * If applying an event fails, the transaction rolls back, the error is logged and kept in
 * `lastError`, and the subscription reads the stored checkpoints again after a back-off
 * (doubling, capped).
 */
export class ProjectionRunner {
  private readonly checkpoints = new Map<string, number>();
  private readonly waiters = new Set<Waiter>();
  /** Told the new position after events are applied (live progress streams listen here). */
  private readonly appliedListeners = new Set<(position: number) => void>();
  private readonly retryDelayMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly rebuildBatchSize: number;
  private subscription: CheckpointedSubscription | undefined;
  private rebuilding = false;
  private applied = 0;
  /** Set while watch() follows another process's projections: the unsubscribe, the re-read. */
  private unwatch: (() => void) | undefined;
  private watching: (() => Promise<void>) | undefined;
  private watchTimer: NodeJS.Timeout | undefined;
  private error: Error | undefined;

  constructor(
    private readonly store: EventStore,
    private readonly dataSource: DataSource,
    private readonly projections: Projection[],
    private readonly logger: ProjectionRunnerLogger = silentLogger,
    options: ProjectionRunnerOptions = {},
  ) {
    const names = new Set<string>();
    for (const p of projections) {
      if (names.has(p.name)) throw new Error(`two projections are named ${p.name}`);
      names.add(p.name);
    }
    this.retryDelayMs = options.retryDelayMs ?? 250;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 10_000;
    this.rebuildBatchSize = options.rebuildBatchSize ?? 1000;
  }

  /** The last position every projection has applied (0 before start()). */
  get position(): number {
    return this.applied;
  }

  /** Whether the runner is started (including while it waits to retry after an error). */
  get isRunning(): boolean {
    return this.subscription !== undefined;
  }

  /** The error of the last failed event; cleared once an event applies again. */
  get lastError(): Error | undefined {
    return this.error;
  }

  /** Subscribes from the lowest checkpoint; resolves once the checkpoints are read. */
  async start(): Promise<void> {
    if (this.rebuilding) throw new Error('the projections are being rebuilt');
    if (this.subscription) return;
    let checkpointsRead!: () => void;
    const read = new Promise<void>((resolve) => (checkpointsRead = resolve));
    const subscription = subscribeFromCheckpoint(this.store, {
      checkpoint: () => this.readCheckpoints().finally(checkpointsRead),
      handle: (event) => this.handle(event),
      onCaughtUp: (position) => this.logger.info({ position }, 'projections caught up'),
      onFailure: (failure) => this.fail(failure),
      backoff: { firstMs: this.retryDelayMs, maxMs: this.maxRetryDelayMs },
    });
    this.subscription = subscription;
    await Promise.race([read, subscription.done]);
  }

  /** Stops the subscription; resolves once no event is being applied. */
  async stop(): Promise<void> {
    const subscription = this.subscription;
    this.subscription = undefined;
    await subscription?.stop();
  }

  /**
   * Calls `listener` with the runner's position each time it moves (after the views commit).
   * Returns the function that unsubscribes it; a listener that throws is ignored.
   */
  onApplied(listener: (position: number) => void): () => void {
    this.appliedListeners.add(listener);
    return () => this.appliedListeners.delete(listener);
  }

  /**
   * Resolves true once every projection has applied `position` (read-your-writes after an
   * append), or false after `timeoutMs`.
   */
  waitFor(position: number, timeoutMs = 5000): Promise<boolean> {
    if (this.applied >= position) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const waiter: Waiter = {
        position,
        resolve,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          resolve(false);
        }, timeoutMs),
      };
      this.waiters.add(waiter);
      void this.watching?.();
    });
  }

  /**
   * Empties every projection's tables and checkpoints (one transaction), then replays the
   * log from position 1 to the store's current last position, a batch of events per
   * transaction, each transaction moving the checkpoints with its rows. Stops the runner
   * first if it is running; start() it again afterwards to follow live appends.
   */
  async rebuild(
    onProgress?: (events: number, lastPosition: number) => void,
  ): Promise<{ events: number; ms: number }> {
    if (this.rebuilding) throw new Error('a rebuild is already running');
    this.rebuilding = true;
    const started = performance.now();
    try {
      await this.stop();
      const names = this.projections.map((p) => p.name);
      await this.dataSource.transaction(async (manager) => {
        for (const table of new Set(this.projections.flatMap((p) => p.tables))) {
          await manager.query(`DELETE FROM ${manager.connection.driver.escape(table)}`);
        }
        await manager.delete(ProjectionCheckpoint, { name: In(names) });
      });
      this.checkpoints.clear();
      this.applied = 0;

      const last = await this.store.lastPosition();
      let after = 0;
      let events = 0;
      const writeOnly = this.projections.filter((p) => p.writeOnly).flatMap((p) => p.tables);
      await inBulkLoad(this.dataSource, writeOnly, async () => {
        while (after < last) {
          const batch = (await this.store.readAll({ after, limit: this.rebuildBatchSize })).filter(
            (e) => e.position <= last,
          );
          if (batch.length === 0) break;
          const position = batch[batch.length - 1]!.position;
          await this.dataSource.transaction(async (manager) => {
            for (const event of batch) {
              for (const projection of this.projections) await projection.apply(event, manager);
            }
            for (const name of names) await this.writeCheckpoint(manager, name, position);
          });
          for (const name of names) this.checkpoints.set(name, position);
          events += batch.length;
          after = position;
          this.advance(position);
          onProgress?.(events, last);
        }
      });
      const ms = Math.round(performance.now() - started);
      this.logger.info({ events, ms, position: after }, 'projections rebuilt');
      return { events, ms };
    } finally {
      this.rebuilding = false;
    }
  }

  /**
   * Follows views that another process keeps (an API process without the views lease,
   * docs/architecture.md "Topologies"): applies nothing, and reads the stored checkpoints
   * after every append wake-up, and every 50 ms while a route waits for a position, so that
   * read-your-writes and the progress streams move with the other process's projections.
   * stopWatching() ends it, e.g. before start() once this process takes the lease.
   */
  watch(): void {
    if (this.unwatch || this.subscription) return;
    let reading = false;
    let again = false;
    const refresh = async (): Promise<void> => {
      if (reading) {
        again = true;
        return;
      }
      reading = true;
      try {
        do {
          again = false;
          this.advance(await this.loadCheckpoints());
        } while (again);
      } catch (error) {
        this.logger.error({ err: error }, 'could not read the views checkpoints');
      } finally {
        reading = false;
      }
      clearTimeout(this.watchTimer);
      if (this.unwatch && [...this.waiters].some((w) => w.position > this.applied))
        this.watchTimer = setTimeout(() => void refresh(), 50);
    };
    this.unwatch = this.store.onAppended(() => void refresh());
    this.watching = refresh;
    void refresh();
  }

  /** Ends watch(). */
  stopWatching(): void {
    this.unwatch?.();
    this.unwatch = undefined;
    this.watching = undefined;
    clearTimeout(this.watchTimer);
  }

  /** Reads every projection's checkpoint; the subscription starts after the lowest. */
  private async readCheckpoints(): Promise<number> {
    const from = await this.loadCheckpoints();
    this.advance(from);
    this.logger.info({ after: from }, 'projection runner subscribed');
    return from;
  }

  /** The stored checkpoints, into this.checkpoints; returns the lowest. */
  private async loadCheckpoints(): Promise<number> {
    const names = this.projections.map((p) => p.name);
    const rows = await this.dataSource
      .getRepository(ProjectionCheckpoint)
      .findBy({ name: In(names) });
    this.checkpoints.clear();
    for (const name of names) this.checkpoints.set(name, 0);
    for (const row of rows) this.checkpoints.set(row.name, row.position);
    return this.lowestCheckpoint();
  }

  private async handle(event: RecordedEvent): Promise<void> {
    const moved = new Map<string, number>();
    await this.dataSource.transaction(async (manager) => {
      for (const projection of this.projections) {
        if ((this.checkpoints.get(projection.name) ?? 0) >= event.position) continue;
        await projection.apply(event, manager);
        await this.writeCheckpoint(manager, projection.name, event.position);
        moved.set(projection.name, event.position);
      }
    });
    for (const [name, position] of moved) this.checkpoints.set(name, position);
    this.error = undefined;
    this.advance(this.lowestCheckpoint());
  }

  private writeCheckpoint(
    manager: EntityManager,
    name: string,
    position: number,
  ): Promise<unknown> {
    return manager.upsert(ProjectionCheckpoint, { name, position }, ['name']);
  }

  private fail({ error, event, failures, retryInMs }: SubscriptionFailure): void {
    this.error = error instanceof Error ? error : new Error(String(error));
    this.logger.error(
      {
        err: this.error,
        position: event?.position,
        type: event?.type,
        eventId: event?.metadata.eventId,
        correlationId: event?.metadata.correlationId,
        imageId: (event?.data as { imageId?: unknown } | undefined)?.imageId,
        failures,
      },
      event ? 'projection failed to apply an event' : 'projection runner failed to read the log',
    );
    this.logger.info({ delayMs: retryInMs, failures }, 'projection runner will subscribe again');
  }

  private lowestCheckpoint(): number {
    let lowest = Number.POSITIVE_INFINITY;
    for (const p of this.projections) lowest = Math.min(lowest, this.checkpoints.get(p.name) ?? 0);
    return Number.isFinite(lowest) ? lowest : 0;
  }

  private advance(position: number): void {
    this.applied = position;
    for (const waiter of this.waiters) {
      if (waiter.position <= position) {
        clearTimeout(waiter.timer);
        this.waiters.delete(waiter);
        waiter.resolve(true);
      }
    }
    for (const listener of this.appliedListeners) {
      try {
        listener(position);
      } catch {
        // a listener's failure is its own business
      }
    }
  }
}
