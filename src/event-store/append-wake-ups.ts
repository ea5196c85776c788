import type { EventStore } from './event-store.port';

/**
 * A subscriber's view of the store's wake-up signal. The listener is registered before the
 * first read and stays registered, and a wake-up that comes while the subscriber is busy is
 * remembered: an append between a read and the wait that follows is never slept through.
 */
export class AppendWakeUps {
  private pending = false;
  private resolveWait: (() => void) | undefined;
  private readonly removeListener: () => void;
  private readonly wake = (): void => {
    this.pending = true;
    const resolve = this.resolveWait;
    this.resolveWait = undefined;
    resolve?.();
  };

  constructor(
    store: Pick<EventStore, 'onAppended'>,
    private readonly signal: AbortSignal,
  ) {
    this.removeListener = store.onAppended(this.wake);
    signal.addEventListener('abort', this.wake, { once: true });
  }

  /** Forgets earlier wake-ups: call it just before reading. */
  clear(): void {
    this.pending = false;
  }

  /** Resolves at the next wake-up since clear() (at once if one came), or on abort. */
  next(): Promise<void> {
    if (this.pending || this.signal.aborted) return Promise.resolve();
    return new Promise<void>((resolve) => (this.resolveWait = resolve));
  }

  dispose(): void {
    this.removeListener();
    this.signal.removeEventListener('abort', this.wake);
    this.wake();
  }
}
