import { Inject } from '@nestjs/common';
import { Args, Query, ResolveField, Resolver, Root } from '@nestjs/graphql';
import type { DataSource } from 'typeorm';
import type { RequestContext } from '../../../domain/request-context';
import type { AuditLogEntry } from '../../../projections/entities/audit-log-entry.entity';
import { VIEWS_DB } from '../../../di-tokens';
import { Caller } from '../../auth/request-context.decorator';
import { auditCursorOf, auditCursorPosition, listAuditLog } from '../../queries/audit-log.query';
import { parseAuditQuery } from '../../rest/audit-query.parser';
import {
  afterKey,
  connectionComplexity,
  type ConnectionValue,
  PageArgs,
  pageRequest,
  toConnection,
} from '../connection';
import { AuditEntry, AuditEntryConnection } from '../types/audit-entry.type';
import { AuditLogFilter } from '../types/list-filters.input';

/** `auditLog(filter)`: the audit log in log order, with GET /v1/audit's filters and scoping. */
@Resolver(() => AuditEntry)
export class AuditLogResolver {
  constructor(@Inject(VIEWS_DB) private readonly db: DataSource) {}

  @Query(() => AuditEntryConnection, {
    description: "Audit-log entries, oldest first; non-admins see their project's only.",
    complexity: connectionComplexity,
  })
  async auditLog(
    @Caller() caller: RequestContext,
    @Args() args: PageArgs,
    @Args('filter', { type: () => AuditLogFilter, nullable: true }) filter?: AuditLogFilter | null,
  ): Promise<ConnectionValue<AuditLogEntry>> {
    const page = pageRequest(args);
    // The filter is checked by the REST route's parser, so both APIs accept the same values.
    const { filter: checked } = parseAuditQuery({
      ...(filter?.instanceId != null ? { instance: filter.instanceId } : {}),
      ...(filter?.imageId != null ? { image: filter.imageId } : {}),
      ...(filter?.userId != null ? { user: filter.userId } : {}),
      ...(filter?.projectId != null ? { project: filter.projectId } : {}),
      ...(filter?.types != null && filter.types.length > 0 ? { type: filter.types } : {}),
      ...(filter?.since != null ? { since: filter.since } : {}),
      ...(filter?.until != null ? { until: filter.until } : {}),
    });
    const result = await listAuditLog(this.db, caller.actor, checked, {
      limit: page.first,
      afterPosition: afterKey(page, auditCursorPosition),
    });
    return toConnection(result.entries, auditCursorOf, result.nextCursor !== null);
  }

  @ResolveField(() => [String], { description: "The actor's roles." })
  actorRoles(@Root() entry: AuditLogEntry): string[] {
    return entry.actorRoles.split(',').filter(Boolean);
  }
}
