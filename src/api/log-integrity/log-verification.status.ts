import { Inject, Injectable } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { STATE_DB } from '../../di-tokens';
import { EVENT_STORE, type EventStore } from '../../event-store/event-store.port';
import { type HashedLog, isHashedLog } from '../../event-store/hashed-log.port';
import { verifyLog } from '../../event-store/log-verification';
import {
  lastVerification,
  recordVerification,
  type FinishedVerification,
} from './log-verification.records';

/** Rows per batch: small, so that one batch's hashing keeps the event loop busy for ms, not s. */
const SERVICE_BATCH = 1000;

export interface VerificationRun {
  readonly startedAt: string;
  readonly verified: number;
  readonly lastPosition: number;
}

export interface LogVerificationState {
  /** false for a log that keeps no hash chain (EventStoreDB). */
  readonly supported: boolean;
  readonly running: VerificationRun | null;
  /** The walk that finished last, by this process, another one, or `snapledger verify`. */
  readonly last: FinishedVerification | null;
  /** Why this process's last run could not finish (the store failed), when it could not. */
  readonly error: string | null;
}

/**
 * The running service's view of `snapledger verify`: one walk of the whole hash chain at a
 * time, in the background, its progress while it runs, and the last finished walk as the
 * service state keeps it (so it outlives a restart, and the CLI's walks count too). The same
 * verifyLog as the CLI, over the service's own store; between batches it gives the event
 * loop back, so requests keep being answered during a long walk.
 */
@Injectable()
export class LogVerificationStatus {
  private running: VerificationRun | null = null;
  private error: string | null = null;
  private current: Promise<void> | null = null;

  constructor(
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(STATE_DB) private readonly state: DataSource,
  ) {}

  async read(): Promise<LogVerificationState> {
    return {
      supported: isHashedLog(this.store),
      running: this.running,
      last: await lastVerification(this.state),
      error: this.error,
    };
  }

  /** Starts a walk for `requestedBy` unless one is running; returns at once. */
  start(requestedBy: string): void {
    const store = this.store;
    if (this.current !== null || !isHashedLog(store)) return;
    const startedAt = new Date();
    this.running = { startedAt: startedAt.toISOString(), verified: 0, lastPosition: 0 };
    this.current = this.walk(store, startedAt, requestedBy).finally(() => {
      this.running = null;
      this.current = null;
    });
  }

  private async walk(
    store: EventStore & HashedLog,
    startedAt: Date,
    requestedBy: string,
  ): Promise<void> {
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
      await recordVerification(this.state, {
        source: 'service',
        requestedBy,
        startedAt: startedAt.toISOString(),
        finishedAt: finishedAt.toISOString(),
        durationMs: finishedAt.getTime() - startedAt.getTime(),
        result,
      });
      this.error = null;
    } catch (error) {
      this.error = error instanceof Error ? error.message : String(error);
    }
  }
}
