import { Inject, Injectable } from '@nestjs/common';
import { EVENT_STORE, type EventStore } from '../../event-store/event-store.port';
import { type HashedLog, isHashedLog } from '../../event-store/hashed-log.port';
import { type LogVerification, verifyLog } from '../../event-store/log-verification';

/** Rows per batch: small, so that one batch's hashing keeps the event loop busy for ms, not s. */
const SERVICE_BATCH = 1000;

export interface VerificationRun {
  readonly startedAt: string;
  readonly verified: number;
  readonly lastPosition: number;
}

export interface FinishedVerification {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly result: LogVerification;
}

export interface LogVerificationState {
  /** false for a log that keeps no hash chain (EventStoreDB). */
  readonly supported: boolean;
  readonly running: VerificationRun | null;
  readonly last: FinishedVerification | null;
  /** Why the last run could not finish (the store failed), when it could not. */
  readonly error: string | null;
}

/**
 * The running service's view of `snapledger verify`: one walk of the whole hash chain at a
 * time, in the background, its progress while it runs and the result of the last one. The
 * same verifyLog as the CLI, over the service's own store; between batches it gives the
 * event loop back, so requests keep being answered during a long walk.
 */
@Injectable()
export class LogVerificationStatus {
  private running: VerificationRun | null = null;
  private last: FinishedVerification | null = null;
  private error: string | null = null;
  private current: Promise<void> | null = null;

  constructor(@Inject(EVENT_STORE) private readonly store: EventStore) {}

  state(): LogVerificationState {
    return {
      supported: isHashedLog(this.store),
      running: this.running,
      last: this.last,
      error: this.error,
    };
  }

  /** Starts a walk unless one is running; returns at once. */
  start(): void {
    const store = this.store;
    if (this.current !== null || !isHashedLog(store)) return;
    const startedAt = new Date();
    this.running = { startedAt: startedAt.toISOString(), verified: 0, lastPosition: 0 };
    this.current = this.walk(store, startedAt).finally(() => {
      this.running = null;
      this.current = null;
    });
  }

  private async walk(store: EventStore & HashedLog, startedAt: Date): Promise<void> {
    const yielding: HashedLog = {
      lastPosition: () => store.lastPosition(),
      readHashedRows: async (after, limit) => {
        await new Promise<void>((resolve) => setImmediate(resolve));
        return store.readHashedRows(after, limit);
      },
    };
    try {
      const result = await verifyLog(yielding, {
        batchSize: SERVICE_BATCH,
        onProgress: (verified, lastPosition) => {
          this.running = { startedAt: startedAt.toISOString(), verified, lastPosition };
        },
      });
      const finishedAt = new Date();
      this.last = {
        startedAt: startedAt.toISOString(),
        finishedAt: finishedAt.toISOString(),
        durationMs: finishedAt.getTime() - startedAt.getTime(),
        result,
      };
      this.error = null;
    } catch (error) {
      this.error = error instanceof Error ? error.message : String(error);
    }
  }
}
