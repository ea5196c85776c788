import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { LogVerification } from '../../event-store/log-verification';

/** Who walked the chain: the running service (GET/POST /v1/log/verification) or the CLI. */
export type LogVerificationSource = 'service' | 'cli';

/**
 * One finished walk of the log's hash chain, kept in the service state (not a view: a
 * projection rebuild leaves it alone), so the last result outlives a restart and every API
 * process, and `snapledger verify`, report the same one.
 */
@Entity({ name: 'log_verification' })
@Index('idx_log_verification_finished', ['finishedAt'])
export class LogVerificationRecord {
  @PrimaryColumn({ type: 'text' })
  id!: string;

  @Column({ type: 'text' })
  source!: LogVerificationSource;

  /** The user who asked (service), or null (the CLI runs as whoever can read the files). */
  @Column({ type: 'text', nullable: true })
  requestedBy!: string | null;

  @Column({ type: 'text' })
  startedAt!: string;

  @Column({ type: 'text' })
  finishedAt!: string;

  @Column({ type: 'integer' })
  durationMs!: number;

  @Column({ type: 'simple-json' })
  result!: LogVerification;
}
