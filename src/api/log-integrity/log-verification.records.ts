import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import type { LogVerification } from '../../event-store/log-verification';
import { LogVerificationRecord, type LogVerificationSource } from './log-verification.entity';

export interface FinishedVerification {
  readonly source: LogVerificationSource;
  readonly requestedBy: string | null;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly result: LogVerification;
}

/** Keeps a finished walk in the service state. */
export async function recordVerification(
  db: DataSource,
  finished: FinishedVerification,
): Promise<void> {
  await db.getRepository(LogVerificationRecord).insert({ id: randomUUID(), ...finished });
}

/** The walk that finished last, by whoever ran it; null before the first. */
export async function lastVerification(db: DataSource): Promise<FinishedVerification | null> {
  const [row] = await db
    .getRepository(LogVerificationRecord)
    .find({ order: { finishedAt: 'DESC', id: 'DESC' }, take: 1 });
  if (!row) return null;
  const { source, requestedBy, startedAt, finishedAt, durationMs, result } = row;
  return { source, requestedBy, startedAt, finishedAt, durationMs, result };
}
