import { setTimeout as delay } from 'node:timers/promises';
import type { DataSource, EntityManager } from 'typeorm';
import { DomainNotFoundError } from '../drivers/hypervisor.port';
import {
  subscribeFromCheckpoint,
  type CheckpointedSubscription,
} from '../event-store/checkpointed-subscription';
import { type EventStore, WrongExpectedRevisionError } from '../event-store/event-store.port';
import type { EventAppender } from '../commands/event-appender';
import {
  isRequestedTaskState,
  type CausationContext,
  type ImageDeleted,
  type ImageReserved,
  type RecordedEvent,
  type TaskStateChanged,
  type Uploaded,
} from '../events';
import { nextStep, stepOf, type SnapshotAction } from '../domain/snapshot-next-step';
import {
  SagaCheckpoint,
  SnapshotProcessRecord,
  type SnapshotProcessStatus,
} from './snapshot-process.entity';
import type { RequestedSnapshot, SnapshotProcessState } from '../domain/snapshot-process.state';
import { loadSnapshotProcess } from './snapshot-process.loader';
import { queueRole, SnapshotGate } from './snapshot-queue';
import { recordSnapshotQueued } from './snapshot-queued.record';
import { afterStepError, backoffDelayMs, type StepRetryPolicy } from '../domain/step-retry.policy';
import { isPermanent } from './step-error.classification';
import type { WatchedDomain } from './downtime-watch';
import type { SnapshotSteps } from './snapshot-steps';
import { everySnapshot, type SnapshotOwnership } from './snapshot-ownership';

/**
 * The events the saga records or acts on: a task state taken for a new image or released,
 * a reservation, a deletion, and a chain's backup stored with its hash to follow, and
 * hashed. Every other event only moves its checkpoint.
 */
function concernsTheSaga(event: RecordedEvent): boolean {
  if (event.type === 'ImageReserved' || event.type === 'ImageDeleted') return true;
  if (event.type === 'ImageChecksummed' || event.type === 'ImageChecksumFailed') return true;
  if (event.type === 'Uploaded') return (event.data as Uploaded['data']).checksum === null;
  if (event.type !== 'TaskStateChanged') return false;
  const { to } = event.data as TaskStateChanged['data'];
  return to === null || isRequestedTaskState(to);
}

/** A process's status changes only from `from`: a later status is never undone. */
async function moveStatus(
  manager: EntityManager,
  imageId: string,
  from: SnapshotProcessStatus,
  to: SnapshotProcessStatus,
): Promise<void> {
  await manager
    .getRepository(SnapshotProcessRecord)
    .update({ imageId, status: from }, { status: to });
}

/** How often, at most, the checkpoint is moved past events the saga has nothing to do with. */
const IDLE_CHECKPOINT_MS = 1000;

/** The saga's checkpoint: one per agent host, one for the all-in-one service. */
const checkpointName = (ownership: SnapshotOwnership): string =>
  ownership.host === null ? 'snapshot-saga' : `snapshot-saga@${ownership.host}`;

/**
 * How long a snapshot may hold the task state with no image reserved before the saga steps
 * in and releases it (the API appends both within milliseconds; a gap means it failed).
 */
const RESERVATION_GRACE_MS = 10_000;

export interface SagaLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface SnapshotSagaOptions {
  /** Tries per step before the snapshot fails (transient errors only). */
  readonly attempts: number;
  /** First back-off between tries, doubled each time (SNAPLEDGER_STEP_BACKOFF_MS). */
  readonly backoffMs: number;
  /** The longest back-off (SNAPLEDGER_STEP_BACKOFF_MAX_MS); default 30 s. */
  readonly maxBackoffMs?: number;
  /** Snapshots doing hypervisor work at once (SNAPLEDGER_MAX_CONCURRENT_SNAPSHOTS); default 5. */
  readonly maxConcurrentSnapshots?: number;
  /** Whose snapshots it runs: every one (all-in-one), or an agent's host's. */
  readonly ownership?: SnapshotOwnership;
}

/**
 * The snapshot process manager. It is fed by a checkpointed subscription of the event store:
 * ImageReserved starts a process, recorded in snapshot_process with the checkpoint in one
 * transaction. Each process runs as a worker that reloads its streams, asks nextStep() what
 * to do, performs it, and loops until done. A restart resumes every process not finished.
 * An agent's saga does all this only for the instances on its host (SnapshotOwnership): the
 * others' events move its checkpoint and nothing else.
 */
export class SnapshotSaga {
  private subscription: CheckpointedSubscription | null = null;
  private readonly workers = new Map<string, Promise<void>>();
  /** Stops the step a worker is performing, by image id (see onImageDeleted). */
  private readonly currentStep = new Map<string, AbortController>();
  private stopping = false;
  /**
   * False while the subscription catches up with the log. Workers are launched only once it
   * has: a snapshot reserved and finished long ago must not get a worker just because its
   * ImageReserved is replayed before its end (a fresh state.sqlite on an old log).
   */
  private live = false;
  /** The concurrency limit: who holds a slot, who waits (see snapshot-queue.ts). */
  private readonly gate: SnapshotGate;
  /** Aborts the waits of queued snapshots when the service stops. */
  private draining = new AbortController();
  /** When the checkpoint was last written (see IDLE_CHECKPOINT_MS). */
  private checkpointWrittenAt = 0;

  constructor(
    private readonly store: EventStore,
    private readonly db: DataSource,
    private readonly steps: SnapshotSteps,
    private readonly logger: SagaLogger,
    private readonly options: SnapshotSagaOptions,
    /** Records SnapshotQueued on the snapshot's own stream. */
    private readonly appender: EventAppender,
  ) {
    this.gate = new SnapshotGate(options.maxConcurrentSnapshots ?? 5);
  }

  /** Resumes unfinished snapshots and subscribes; resolves once caught up with the log. */
  async start(): Promise<void> {
    this.stopping = false;
    if (this.draining.signal.aborted) this.draining = new AbortController();
    await this.subscribe();
  }

  /**
   * Launches a worker for every snapshot not finished (those already running are kept).
   * First the queue is rebuilt, oldest ImageReserved first: a snapshot that has begun holds
   * its slot (even beyond the limit: it cannot stop half-way), the others wait in order, so a
   * restart neither reorders the queue nor starts anything twice.
   */
  private async resumeOpenProcesses(): Promise<void> {
    const open = (await this.openProcesses()).sort((a, b) => a.position - b.position);
    try {
      for (const process of open) {
        if (process.status !== 'running') continue; // never reserved: it only releases
        const state = await loadSnapshotProcess(this.store, process.imageId, process.instanceId);
        const role = queueRole(state, nextStep(state));
        if (role === 'hold') this.gate.hold(process.imageId);
        else if (role === 'wait')
          this.gate.enqueue({ imageId: process.imageId, position: process.position });
      }
    } finally {
      this.gate.open(); // a worker that finds itself missing joins the queue (waitForSlot)
    }
    for (const process of open) this.launch(process.imageId, process.instanceId);
  }

  private get ownership(): SnapshotOwnership {
    return this.options.ownership ?? everySnapshot;
  }

  private openProcesses(): Promise<SnapshotProcessRecord[]> {
    const host = this.ownership.host;
    return this.db.getRepository(SnapshotProcessRecord).find({
      where:
        host === null
          ? [{ status: 'running' }, { status: 'requested' }, { status: 'hashing' }]
          : [
              { status: 'running', host },
              { status: 'requested', host },
              { status: 'hashing', host },
            ],
    });
  }

  /**
   * Subscribes from the saga's checkpoint. If handling an event fails, the subscription backs
   * off and catches up again from the checkpoint, so no event is skipped.
   */
  private async subscribe(): Promise<void> {
    this.subscription = subscribeFromCheckpoint(this.store, {
      checkpoint: async () => {
        this.live = false; // every catch-up replays without launching workers
        const checkpoint = await this.db
          .getRepository(SagaCheckpoint)
          .findOneBy({ name: checkpointName(this.ownership) });
        return checkpoint?.position ?? 0;
      },
      handle: (event) => this.onEvent(event),
      onCaughtUp: () => {
        this.live = true;
        return this.resumeOpenProcesses().catch((error: unknown) =>
          this.logger.error({ err: error }, 'could not resume the open snapshots'),
        );
      },
      onFailure: ({ error }) =>
        this.logger.error(
          { err: error },
          'snapshot saga failed to handle an event; subscribing again',
        ),
      backoff: { firstMs: this.options.backoffMs, maxMs: this.retryPolicy.maxBackoffMs },
    });
    await this.subscription.caughtUp;
  }

  /** The image ids of snapshots in flight, e.g. to keep their staged data when sweeping. */
  async inFlight(): Promise<Set<string>> {
    return new Set((await this.openProcesses()).map((p) => p.imageId));
  }

  /** Stops taking new work and waits (bounded) for running snapshots to finish. */
  async stop(timeoutMs = 60_000): Promise<void> {
    // Queued snapshots have done nothing yet, and a hash is done again from the start: their
    // workers end now (draining stops a hash) and resume at the next start.
    this.draining.abort(new Error('the service is stopping'));
    const subscription = this.subscription;
    this.subscription = null;
    await subscription?.stop();
    const all = Promise.allSettled([...this.workers.values()]);
    await Promise.race([all, delay(timeoutMs, undefined, { ref: false })]);
    this.stopping = true;
  }

  private async onEvent(event: RecordedEvent): Promise<void> {
    let launch: SnapshotProcessRecord | null = null;
    let requested: { imageId: string; instanceId: string } | null = null;
    let finished: string | null = null;
    const ours = concernsTheSaga(event) && (await this.concerns(event));
    if (!ours) {
      // Nothing to record: most events, and on an agent every other host's. The checkpoint
      // moves past them at most once a second (a restart re-reads the few after it, which
      // change nothing), rather than in a transaction of its own per event.
      if (Date.now() - this.checkpointWrittenAt < IDLE_CHECKPOINT_MS) return;
    }
    this.checkpointWrittenAt = Date.now();
    await this.db.transaction(async (manager) => {
      if (!ours) {
        // Only the checkpoint moves.
      } else if (event.type === 'TaskStateChanged') {
        const data = event.data as TaskStateChanged['data'];
        if (isRequestedTaskState(data.to)) {
          await this.record(manager, data.imageId, data.instanceId, 'requested', event.position);
          requested = { imageId: data.imageId, instanceId: data.instanceId };
        }
        if (data.to === null) {
          // A chain's backup still to be hashed stays open (hashing) without its slot.
          await this.record(manager, data.imageId, data.instanceId, 'finished', event.position, {
            keepHashing: true,
          });
          finished = data.imageId;
        }
      } else if (event.type === 'ImageDeleted') {
        await this.onImageDeleted(manager, event.data as ImageDeleted['data'], {
          actor: event.metadata.actor,
          requestId: event.metadata.requestId,
          correlationId: event.metadata.correlationId,
          causationId: event.metadata.eventId,
        });
      } else if (event.type === 'Uploaded') {
        // Stored with its checksums to follow: hashed after the task state is released.
        const { imageId } = event.data as Uploaded['data'];
        await moveStatus(manager, imageId, 'running', 'hashing');
      } else if (event.type === 'ImageChecksummed' || event.type === 'ImageChecksumFailed') {
        const { imageId } = event.data as { imageId: string };
        await moveStatus(manager, imageId, 'hashing', 'finished');
      } else if (event.type === 'ImageReserved') {
        const data = event.data as ImageReserved['data'];
        launch = await this.record(
          manager,
          data.imageId,
          data.instanceId,
          'running',
          event.position,
        );
      }
      await manager
        .getRepository(SagaCheckpoint)
        .save({ name: checkpointName(this.ownership), position: event.position });
    });
    const started = launch as SnapshotProcessRecord | null;
    const ended = finished as string | null;
    if (ended) this.gate.leave(ended); // its slot is free for the next snapshot
    if (!this.live) return; // resumeOpenProcesses launches them once caught up
    if (started && started.status === 'running') {
      // Its place in the queue is its ImageReserved's place in the log.
      this.gate.enqueue({ imageId: started.imageId, position: started.position });
      this.launch(started.imageId, started.instanceId);
    }
    const waiting = requested as { imageId: string; instanceId: string } | null;
    if (waiting) void this.releaseIfNeverReserved(waiting.imageId, waiting.instanceId);
  }

  /**
   * Whether the event is about a snapshot this saga runs. A task-state change or a
   * reservation names its instance; an ImageDeleted does not, and concerns an agent when its
   * own process table has that image (or, on the all-in-one service, always).
   */
  private async concerns(event: RecordedEvent): Promise<boolean> {
    const { host } = this.ownership;
    if (host === null) return true;
    if (event.type === 'TaskStateChanged' || event.type === 'ImageReserved') {
      const { instanceId } = event.data as { instanceId: string };
      return this.ownership.owns(instanceId);
    }
    if (event.type !== 'TaskStateChanged' && event.type !== 'ImageReserved') {
      // ImageDeleted, Uploaded, ImageChecksummed, ImageChecksumFailed.
      const { imageId } = event.data as { imageId: string };
      const process = await this.db
        .getRepository(SnapshotProcessRecord)
        .findOneBy({ imageId, host });
      return process !== null;
    }
    return false;
  }

  /**
   * A deleted image's snapshot, if it still runs, is stopped: its current step (a conversion)
   * is aborted, and its worker re-reads the log, restores the domain and releases the task
   * state, discarding the data. A deleted image whose snapshot has finished only has its data
   * removed, here, before the checkpoint moves past the event, so a crash repeats it.
   */
  private async onImageDeleted(
    manager: EntityManager,
    data: ImageDeleted['data'],
    origin: CausationContext,
  ): Promise<void> {
    const process = await manager
      .getRepository(SnapshotProcessRecord)
      .findOneBy({ imageId: data.imageId });
    if (process && process.status !== 'finished') {
      this.currentStep.get(data.imageId)?.abort(new Error('the image was deleted'));
      // Stored and being hashed: the hashing stops, and the data goes as a finished
      // snapshot's does (its worker, finding the image deleted, has nothing left to do).
      if (process.status !== 'hashing') return;
      await moveStatus(manager, data.imageId, 'hashing', 'finished');
    }
    await this.steps.discardData(data.imageId, origin);
  }

  /**
   * After the grace period, a process still only `requested` has a task state with no image:
   * its worker finds that and releases the task state.
   */
  private async releaseIfNeverReserved(imageId: string, instanceId: string): Promise<void> {
    await delay(RESERVATION_GRACE_MS, undefined, { ref: false });
    if (this.stopping) return;
    const process = await this.db.getRepository(SnapshotProcessRecord).findOneBy({ imageId });
    if (process?.status === 'requested') this.launch(imageId, instanceId);
  }

  private async record(
    manager: EntityManager,
    imageId: string,
    instanceId: string,
    status: SnapshotProcessStatus,
    position: number,
    options: { readonly keepHashing?: boolean } = {},
  ): Promise<SnapshotProcessRecord> {
    const repo = manager.getRepository(SnapshotProcessRecord);
    const existing = await repo.findOneBy({ imageId });
    if (options.keepHashing && existing?.status === 'hashing') return existing;
    // A process never moves backwards: finished stays finished.
    const order: SnapshotProcessStatus[] = ['requested', 'running', 'hashing', 'finished'];
    if (existing && order.indexOf(existing.status) >= order.indexOf(status)) return existing;
    return repo.save({ imageId, instanceId, status, position, host: this.ownership.host });
  }

  private launch(imageId: string, instanceId: string, crashes = 0): void {
    if (this.workers.has(imageId) || this.stopping) return;
    const worker = this.run(imageId, instanceId)
      .then(() => true)
      .catch((error: unknown) => {
        this.logger.error(
          { imageId, instanceId, err: error },
          'snapshot worker crashed; it will be started again',
        );
        return false;
      })
      .then(async (finished) => {
        this.workers.delete(imageId);
        if (finished || this.stopping || this.subscription === null) return;
        await delay(this.backoff(crashes + 1), undefined, { ref: false });
        this.launch(imageId, instanceId, crashes + 1);
      });
    this.workers.set(imageId, worker);
  }

  private async run(imageId: string, instanceId: string): Promise<void> {
    const downtime: { current: WatchedDomain | null } = { current: null };
    try {
      await this.runSteps(imageId, instanceId, downtime);
    } finally {
      downtime.current?.stop();
    }
  }

  /**
   * The worker's loop. Once the snapshot is planned, the domain's lifecycle events are
   * watched for downtime (DowntimeWatch); what the watch saw is recorded at step boundaries,
   * and once more before the task state is released.
   */
  private async runSteps(
    imageId: string,
    instanceId: string,
    downtime: { current: WatchedDomain | null },
  ): Promise<void> {
    let attempts = 0;
    let restoreGivenUp = false;
    let restoreGivenUpReason: string | undefined;
    let finalDowntimeRecorded = false;
    for (;;) {
      if (this.stopping) return;
      const state = await loadSnapshotProcess(this.store, imageId, instanceId);
      const action: SnapshotAction = nextStep(state, { restoreGivenUp, restoreGivenUpReason });
      if (state.phase === 'unrequested') {
        // Nothing in the log asks for it (nextStep says done): nothing to watch or record.
        this.gate.leave(imageId);
        return this.finished(instanceId, state);
      }
      // The snapshot ended when its task state was released: hashing a chain's backup after
      // that is no time of the domain's, so nothing more is watched or recorded.
      if (action.kind === 'checksum' && downtime.current !== null) {
        downtime.current.stop();
        downtime.current = null;
      }
      if (
        action.kind !== 'done' &&
        action.kind !== 'checksum' &&
        state.phase === 'planned' &&
        downtime.current === null
      ) {
        downtime.current = await this.steps.watchDowntime(state).catch((error: unknown) => {
          this.logger.warn(
            { imageId, err: error },
            "could not watch the domain's lifecycle events; its downtime may be under-reported",
          );
          return null;
        });
      }
      const watching = downtime.current;
      const final = action.kind === 'finish' || action.kind === 'release';
      if (watching && (final ? !finalDowntimeRecorded : watching.watch.pending.length > 0)) {
        try {
          await this.steps.recordDowntime(state, watching.watch, final);
          if (final) finalDowntimeRecorded = true;
        } catch (error) {
          if (!(error instanceof WrongExpectedRevisionError)) throw error;
        }
        continue; // re-read: the snapshot stream moved
      }
      const role = queueRole(state, action);
      if (role === 'hold') this.gate.hold(imageId);
      if (role === 'leave') this.gate.leave(imageId);
      if (role === 'wait' && !this.gate.isAdmitted(imageId)) {
        if (this.draining.signal.aborted) return; // resumed, still queued, at the next start
        await this.waitForSlot(state);
        continue; // re-read: it may have been deleted while it waited
      }
      if (action.kind === 'done') return this.finished(instanceId, state);
      // A hash is done again at the next start: stopping does not wait for it.
      if (action.kind === 'checksum' && this.draining.signal.aborted) return;
      const stop = new AbortController();
      this.currentStep.set(imageId, stop);
      // Stopping the service stops a hash too (it is done again at the next start).
      const signal =
        action.kind === 'checksum'
          ? AbortSignal.any([stop.signal, this.draining.signal])
          : stop.signal;
      try {
        await this.steps.perform(action, state, signal);
        attempts = 0;
      } catch (error) {
        if (error instanceof WrongExpectedRevisionError) continue; // someone appended: re-read, re-decide
        if (signal.aborted) continue; // stopped on purpose (image deleted, service stopping): re-read
        attempts += 1;
        const reason = error instanceof Error ? error.message : String(error);
        const compensating = state.image.status === 'killed' || state.image.status === 'deleted';
        this.logger.warn(
          {
            imageId,
            correlationId: state.origin.correlationId,
            action: action.kind,
            attempt: attempts,
            reason,
          },
          'snapshot step failed',
        );
        const outcome = afterStepError(
          {
            action: action.kind,
            attempt: attempts,
            permanent: isPermanent(error),
            domainMissing: error instanceof DomainNotFoundError,
            compensating,
          },
          this.retryPolicy,
        );
        if (outcome.kind === 'give-up-restore') {
          restoreGivenUp = true;
          restoreGivenUpReason = reason;
          attempts = 0;
          continue;
        }
        if (outcome.kind === 'retry') {
          if (outcome.record) {
            const step = stepOf[action.kind as keyof typeof stepOf];
            await this.steps
              .recordRetry(state, { step, attempt: attempts, reason })
              .catch(() => undefined);
          }
          await delay(outcome.delayMs);
          continue;
        }
        const step = stepOf[action.kind as keyof typeof stepOf];
        await this.steps.fail(state, step, reason).catch((e: unknown) => {
          if (!(e instanceof WrongExpectedRevisionError)) throw e;
        });
        attempts = 0;
      } finally {
        this.currentStep.delete(imageId);
      }
    }
  }

  private async finished(instanceId: string, state: SnapshotProcessState): Promise<void> {
    const { imageId } = state;
    await this.db.getRepository(SnapshotProcessRecord).update({ imageId }, { status: 'finished' });
    this.logger.info(
      {
        imageId,
        instanceId,
        correlationId: state.origin?.correlationId,
        status: state.image.status,
      },
      'snapshot finished',
    );
  }

  /**
   * Waits in the queue until the snapshot may begin (SnapshotGate.waitForSlot), recording
   * SnapshotQueued if it must wait. Deleting the image (onImageDeleted aborts currentStep) or
   * stopping the service ends the wait.
   */
  private async waitForSlot(state: RequestedSnapshot): Promise<void> {
    const { imageId } = state;
    const record = await this.db.getRepository(SnapshotProcessRecord).findOneBy({ imageId });
    const stop = new AbortController();
    try {
      await this.gate.waitForSlot(
        { imageId, position: record?.position ?? Number.MAX_SAFE_INTEGER },
        {
          queued: async (position) => {
            const limit = this.gate.limit;
            if (await recordSnapshotQueued(this.store, this.appender, state, { position, limit })) {
              this.logger.info(
                {
                  imageId,
                  instanceId: state.instanceId,
                  correlationId: state.origin.correlationId,
                  position,
                  limit,
                  active: this.gate.active,
                },
                'snapshot queued: every slot is taken',
              );
            }
            this.currentStep.set(imageId, stop);
          },
          stop: stop.signal,
          draining: this.draining.signal,
        },
      );
    } finally {
      if (this.currentStep.get(imageId) === stop) this.currentStep.delete(imageId);
    }
  }

  private get retryPolicy(): StepRetryPolicy {
    return {
      attempts: this.options.attempts,
      firstBackoffMs: this.options.backoffMs,
      maxBackoffMs: this.options.maxBackoffMs ?? 30_000,
    };
  }

  private backoff(attempt: number): number {
    return backoffDelayMs(attempt, this.retryPolicy);
  }
}
