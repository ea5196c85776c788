import type { Clock } from '../../commands/clock';
import type { EventAppender } from '../../commands/event-appender';
import { ProgressSampler } from '../progress-sampler';
import {
  type ExpectedRevision,
  imageStream,
  instanceStream,
  snapshotStream,
  type SnapledgerEvent,
  type SnapshotStepRetried,
} from '../../events';
import type { RequestedSnapshot } from '../../domain/snapshot-process.state';

/*
 * The appends the steps share. Each expects the revision its stream was read at, so a step
 * that raced another writer fails with WrongExpectedRevisionError and is decided again.
 */

export function appendToInstance(
  appender: EventAppender,
  state: RequestedSnapshot,
  events: readonly SnapledgerEvent[],
) {
  return appender.append(
    instanceStream(state.instanceId),
    events,
    state.instanceRevision,
    state.origin,
  );
}

export function appendToImage(
  appender: EventAppender,
  state: RequestedSnapshot,
  events: readonly SnapledgerEvent[],
) {
  return appender.append(imageStream(state.imageId), events, state.imageRevision, state.origin);
}

export function appendToSnapshot(
  appender: EventAppender,
  state: RequestedSnapshot,
  events: readonly SnapledgerEvent[],
) {
  return appender.append(
    snapshotStream(state.imageId),
    events,
    state.snapshotRevision,
    state.origin,
  );
}

/** A transient failure of a step, kept so the history shows it (SnapshotStepRetried). */
export async function recordRetry(
  appender: EventAppender,
  state: RequestedSnapshot,
  retry: Omit<SnapshotStepRetried['data'], 'imageId'>,
): Promise<void> {
  await appendToSnapshot(appender, state, [
    { type: 'SnapshotStepRetried', data: { imageId: state.imageId, ...retry } },
  ]);
}

/** When a driver call began and how long it took, as the events record it. */
export function timedSince(clock: Clock, startedAt: Date) {
  return {
    startedAt: startedAt.toISOString(),
    durationMs: clock.now().getTime() - startedAt.getTime(),
  };
}

/**
 * Progress events of a long driver call, appended to the image stream once a second (the
 * first report at once when `leading`), in order, each at the revision the last one left.
 * A progress append that fails is dropped: progress is advisory, and the step's final append
 * at `revision` then fails and the step is decided again.
 */
export class ImageProgressWriter {
  private readonly sampler = new ProgressSampler();
  private pending: Promise<void> = Promise.resolve();
  private timer: ReturnType<typeof setInterval> | null = null;
  private reported = false;

  constructor(
    private readonly appender: EventAppender,
    private readonly state: RequestedSnapshot,
    /** The events for a sampled value; [] when there is nothing to record. */
    private readonly decide: (value: number) => readonly SnapledgerEvent[],
    private readonly options: { readonly leading?: boolean; readonly everyMs: number },
  ) {
    this.revision = state.imageRevision;
    this.timer = setInterval(() => this.flush(), options.everyMs);
  }

  /** The image stream's revision after the last progress append. */
  revision: ExpectedRevision;

  report(value: number): void {
    this.sampler.report(value);
    if (this.options.leading && !this.reported) this.flush();
    this.reported = true;
  }

  /** Stops sampling and waits for the appends already begun. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.pending;
  }

  private flush(): void {
    const value = this.sampler.take();
    if (value === null) return;
    const events = this.decide(value);
    if (events.length === 0) return;
    const { appender, state } = this;
    this.pending = this.pending
      .then(async () => {
        const r = await appender.append(
          imageStream(state.imageId),
          events,
          this.revision,
          state.origin,
        );
        if (r) this.revision = r.nextExpectedRevision;
      })
      .catch(() => undefined);
  }
}
