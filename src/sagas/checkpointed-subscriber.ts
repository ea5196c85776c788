import { setTimeout as delay } from 'node:timers/promises';
import type { EventStore, StreamSubscription } from '../event-store/event-store.port';
import type { RecordedEvent } from '../events';

export interface CheckpointedSubscriberOptions {
  /** The position the process manager has handled up to (its checkpoint). */
  readonly checkpoint: () => Promise<number>;
  /** Handles one event and moves the checkpoint past it; a throw ends the subscription. */
  readonly handle: (event: RecordedEvent) => Promise<void>;
  /** Told about a handler failure before the subscription is opened again. */
  readonly onFailure: (error: unknown) => void;
  /** First back-off before subscribing again, doubled per consecutive failure (max 30 s). */
  readonly backoffMs: number;
}

/**
 * A process manager's feed: a subscription of the whole log from its checkpoint. When the
 * handler fails, the subscription ends and is opened again from the checkpoint after a
 * back-off, so no event is skipped and none is handled past a failure.
 */
export class CheckpointedSubscriber {
  private current: StreamSubscription | null = null;
  private running = false;

  constructor(
    private readonly store: EventStore,
    private readonly options: CheckpointedSubscriberOptions,
  ) {}

  /** Resolves once the subscription has caught up with the log (or ended). */
  async start(): Promise<void> {
    this.running = true;
    await this.open(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    const subscription = this.current;
    this.current = null;
    await subscription?.stop();
  }

  private async open(failures: number): Promise<void> {
    const after = await this.options.checkpoint();
    const failed: { error?: unknown } = {};
    let markCaughtUp: () => void = () => undefined;
    const caughtUp = new Promise<void>((resolve) => (markCaughtUp = resolve));
    const handler = (event: RecordedEvent): Promise<void> =>
      this.options.handle(event).catch((error: unknown) => {
        failed.error = error;
        throw error;
      });
    const subscription = this.store.subscribe(handler, { after, onCaughtUp: markCaughtUp });
    this.current = subscription;
    void subscription.done.then(() => {
      markCaughtUp();
      if (!('error' in failed) || !this.running || this.current !== subscription) return;
      this.options.onFailure(failed.error);
      const wait = Math.min(30_000, this.options.backoffMs * 2 ** failures);
      void delay(wait, undefined, { ref: false }).then(() =>
        this.running && this.current === subscription ? this.open(failures + 1) : undefined,
      );
    });
    await caughtUp;
  }
}
