import type { DataSource } from 'typeorm';
import { isAdmin } from '../../domain/request-context';
import type { Actor } from '../../events';
import { AuditLogEntry } from '../../projections/entities/audit-log-entry.entity';
import { decodeCursor, encodeCursor } from './query-cursor';

/** What to narrow the audit log to; every field is optional and they combine with AND. */
export interface AuditLogFilter {
  readonly instanceId?: string;
  readonly imageId?: string;
  /** The acting user's id (actorUserId). */
  readonly userId?: string;
  /** The project owning the resource. Non-admins asking for another project get nothing. */
  readonly projectId?: string;
  /** Event types; any of them matches. */
  readonly types?: readonly string[];
  /** ISO-8601 (as Date#toISOString writes it): occurredAt >= since. */
  readonly since?: string;
  /** ISO-8601 (as Date#toISOString writes it): occurredAt < until. */
  readonly until?: string;
}

/** A page of the audit log, by position (the log's order). */
export interface AuditLogPage {
  /** 1..1000. */
  readonly limit: number;
  /** Start after this position (exclusive), from auditCursorPosition(cursor). */
  readonly afterPosition?: number;
  /** asc (default): oldest first; desc: newest first. */
  readonly order?: 'asc' | 'desc';
}

export interface AuditLogResult {
  readonly entries: AuditLogEntry[];
  /** Cursor for the next page, or null when this page is the last. */
  readonly nextCursor: string | null;
}

export const AUDIT_LOG_MAX_LIMIT = 1000;

/** The cursor that resumes a listing just after `entry` (also a Relay edge cursor). */
export function auditCursorOf(entry: Pick<AuditLogEntry, 'position'>): string {
  return encodeCursor([entry.position]);
}

/** The position a cursor stands for, or null when the cursor is not valid. */
export function auditCursorPosition(cursor: string): number | null {
  const key = decodeCursor(cursor, 1);
  const position = key?.[0];
  return typeof position === 'number' && Number.isSafeInteger(position) && position >= 0
    ? position
    : null;
}

/**
 * Lists audit-log entries visible to `actor`, filtered and paged in SQL (bound parameters).
 * Admins see every project's entries; anyone else only those whose owning project
 * (projectId) is their own. Fetches one row more than the limit to know whether a next
 * page exists.
 */
export async function listAuditLog(
  db: DataSource,
  actor: Actor,
  filter: AuditLogFilter,
  page: AuditLogPage,
): Promise<AuditLogResult> {
  const admin = isAdmin(actor);
  if (!admin && filter.projectId !== undefined && filter.projectId !== actor.projectId)
    return { entries: [], nextCursor: null };
  const limit = Math.max(1, Math.min(AUDIT_LOG_MAX_LIMIT, Math.trunc(page.limit)));
  const order = page.order === 'desc' ? 'DESC' : 'ASC';

  const q = db.getRepository(AuditLogEntry).createQueryBuilder('a');
  const projectId = admin ? filter.projectId : actor.projectId;
  if (projectId !== undefined) q.andWhere('a.projectId = :projectId', { projectId });
  if (filter.instanceId !== undefined)
    q.andWhere('a.instanceId = :instanceId', { instanceId: filter.instanceId.toLowerCase() });
  if (filter.imageId !== undefined)
    q.andWhere('a.imageId = :imageId', { imageId: filter.imageId.toLowerCase() });
  if (filter.userId !== undefined) q.andWhere('a.actorUserId = :userId', { userId: filter.userId });
  if (filter.types !== undefined && filter.types.length > 0)
    q.andWhere('a.type IN (:...types)', { types: [...filter.types] });
  if (filter.since !== undefined) q.andWhere('a.occurredAt >= :since', { since: filter.since });
  if (filter.until !== undefined) q.andWhere('a.occurredAt < :until', { until: filter.until });
  if (page.afterPosition !== undefined)
    q.andWhere(order === 'ASC' ? 'a.position > :after' : 'a.position < :after', {
      after: page.afterPosition,
    });
  const rows = await q
    .orderBy('a.position', order)
    .limit(limit + 1)
    .getMany();
  const entries = rows.slice(0, limit);
  const last = entries[entries.length - 1];
  return { entries, nextCursor: rows.length > limit && last ? auditCursorOf(last) : null };
}
