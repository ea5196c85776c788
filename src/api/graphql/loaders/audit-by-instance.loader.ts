import DataLoader from 'dataloader';
import type { DataSource } from 'typeorm';
import { isAdmin } from '../../../domain/request-context';
import type { Actor } from '../../../events';
import { AuditLogEntry } from '../../../projections/entities/audit-log-entry.entity';
import { auditCursorOf, auditCursorPosition } from '../../queries/audit-log.query';
import { afterKey, type ConnectionValue, type PageRequest, toConnection } from '../connection';
import { firstRowsPerKey } from './first-rows-per-key';

/**
 * `Instance.auditLog`: one page of each instance's audit entries in log order, for every
 * instance of the response in one query. Scoped as listAuditLog is: a non-admin sees only
 * entries owned by their own project.
 */
export function auditByInstanceLoader(
  db: DataSource,
  actor: Actor,
  page: PageRequest,
): DataLoader<string, ConnectionValue<AuditLogEntry>> {
  const after = afterKey(page, auditCursorPosition);
  return new DataLoader(async (instanceIds) => {
    const rows = await firstRowsPerKey(
      db,
      {
        entity: AuditLogEntry,
        keyColumn: 'instanceId',
        idColumn: 'position',
        order: [['position', 'ASC']],
        where: (q) => {
          if (!isAdmin(actor))
            q.andWhere('"p"."projectId" = :actorProject', { actorProject: actor.projectId });
          if (after !== undefined)
            q.andWhere('"p"."position" > :afterPosition', { afterPosition: after });
        },
      },
      instanceIds,
      page.first + 1,
    );
    return instanceIds.map((id) => {
      const list = rows.get(id) ?? [];
      return toConnection(list.slice(0, page.first), auditCursorOf, list.length > page.first);
    });
  });
}
