import { setTimeout as sleep } from 'node:timers/promises';
import type { RecordedEvent } from '../events/recorded-event';
import { AppendWakeUps } from './append-wake-ups';
import { EventStoreClosedError, type EventStore } from './event-store.port';

/** Events read per query while catching up. */
const DEFAULT_BATCH_SIZE = 500;

/** The wait after the first failure, doubled after each further one in a row, capped. */
export interface SubscriptionBackoff {
  readonly firstMs: number;
  readonly maxMs: number;
}

export interface SubscriptionFailure {
  readonly error: unknown;
  /** The event whose handler threw; undefined when the checkpoint or the log could not be read. */
  readonly event: RecordedEvent | undefined;
  /** Failures in a row, this one included (a handled event resets the count). */
  readonly failures: number;
  /** How long the subscription waits before it reads the checkpoint again. */
  readonly retryInMs: number;
}

export interface CheckpointedSubscriptionOptions {
  /**
   * The position the subscriber has handled up to, read from where it keeps it. Called at
   * the start and again after every failure: each catch-up begins here, so an event that
   * failed is delivered again and nothing before it is.
   */
  readonly checkpoint: () => Promise<number>;
  /**
   * Handles one event and records the checkpoint past it, in the same transaction as what
   * it writes. Events come one at a time, in position order. A throw is a failure: back-off,
   * then catch up again from checkpoint().
   */
  readonly handle: (event: RecordedEvent) => Promise<void>;
  readonly backoff: SubscriptionBackoff;
  /** Aborting it ends the subscription, as stop() does. */
  readonly signal?: AbortSignal;
  /**
   * Called at the end of each catch-up (the first and every one after a failure) with the
   * position reached. Delivery goes on without waiting for a promise it returns, but the
   * first one delays `caughtUp`; it should handle its own errors.
   */
  readonly onCaughtUp?: (position: number) => void | Promise<unknown>;
  /** Told of each failure before the back-off. */
  readonly onFailure?: (failure: SubscriptionFailure) => void;
  readonly batchSize?: number;
}

export interface CheckpointedSubscription {
  /**
   * Resolves after the first catch-up (and the promise onCaughtUp returned), or at the first
   * failure, or at the end, whichever comes first: a start must not hang on an event that
   * keeps failing.
   */
  readonly caughtUp: Promise<void>;
  /** Resolves once the subscription has ended: stopped, aborted, or the store closed. */
  readonly done: Promise<void>;
  /** Ends the subscription; resolves once ended, after the event being handled (if any). */
  stop(): Promise<void>;
}

/**
 * Follows the whole log from a checkpoint the subscriber keeps itself: reads in batches
 * until caught up, then waits for the store's wake-up signal. On a failure it backs off
 * and resumes from the checkpoint, so no event is skipped and none is handled past one that
 * failed. Built only on readAll and onAppended, so every adapter gets it as it is.
 */
export function subscribeFromCheckpoint(
  store: Pick<EventStore, 'readAll' | 'onAppended'>,
  options: CheckpointedSubscriptionOptions,
): CheckpointedSubscription {
  const stopper = new AbortController();
  const signal = options.signal
    ? AbortSignal.any([options.signal, stopper.signal])
    : stopper.signal;
  let markCaughtUp!: () => void;
  const caughtUp = new Promise<void>((resolve) => (markCaughtUp = resolve));
  const done = follow(store, { ...options, signal }, (onCaughtUp) => {
    void Promise.resolve(onCaughtUp).then(markCaughtUp, markCaughtUp);
  }).finally(markCaughtUp);
  return {
    caughtUp,
    done,
    stop: () => {
      stopper.abort();
      return done;
    },
  };
}

async function follow(
  store: Pick<EventStore, 'readAll' | 'onAppended'>,
  options: CheckpointedSubscriptionOptions & { readonly signal: AbortSignal },
  started: (onCaughtUp?: void | Promise<unknown>) => void,
): Promise<void> {
  const { signal, backoff } = options;
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  let wakeUps: AppendWakeUps;
  try {
    wakeUps = new AppendWakeUps(store, signal);
  } catch (error) {
    if (error instanceof EventStoreClosedError) return;
    throw error;
  }
  let failures = 0;
  try {
    while (!signal.aborted) {
      let current: RecordedEvent | undefined;
      try {
        let position = await options.checkpoint();
        let caughtUp = false;
        while (!signal.aborted) {
          wakeUps.clear();
          const batch = await store.readAll({ after: position, limit: batchSize });
          for (const event of batch) {
            if (signal.aborted) return;
            current = event;
            await options.handle(event);
            current = undefined;
            position = event.position;
            failures = 0;
          }
          if (batch.length === batchSize) continue;
          if (!caughtUp) {
            caughtUp = true;
            started(options.onCaughtUp?.(position));
          }
          await wakeUps.next();
        }
      } catch (error) {
        if (signal.aborted || error instanceof EventStoreClosedError) return;
        failures += 1;
        const retryInMs = Math.min(backoff.maxMs, backoff.firstMs * 2 ** (failures - 1));
        options.onFailure?.({ error, event: current, failures, retryInMs });
        started();
        // An abort cuts the back-off short; the loop then ends.
        await sleep(retryInMs, undefined, { signal, ref: false }).catch(() => undefined);
      }
    }
  } finally {
    wakeUps.dispose();
  }
}
