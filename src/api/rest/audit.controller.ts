import { Controller, Get, Inject, Query } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import type { RequestContext } from '../../domain/request-context';
import { VIEWS_DB } from '../../di-tokens';
import { Caller } from '../auth/request-context.decorator';
import { listAuditLog } from '../queries/audit-log.query';
import { auditEntryShape } from './audit-log.shape';
import { parseAuditQuery } from './audit-query.parser';
import { linkWith, type RawQuery } from './query-params.parser';

/** GET /v1/audit: who did what, when; the caller's project only, unless an admin asks. */
@Controller('v1')
export class AuditController {
  constructor(@Inject(VIEWS_DB) private readonly db: DataSource) {}

  @Get('audit')
  async list(@Query() query: RawQuery, @Caller() caller: RequestContext) {
    const { filter, page } = parseAuditQuery(query);
    const result = await listAuditLog(this.db, caller.actor, filter, page);
    return {
      audit: result.entries.map(auditEntryShape),
      next_cursor: result.nextCursor,
      next:
        result.nextCursor === null
          ? null
          : linkWith('/v1/audit', query, { cursor: result.nextCursor }),
    };
  }
}
