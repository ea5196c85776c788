import { Inject } from '@nestjs/common';
import { Args, Context, Query, ResolveField, Resolver, Root } from '@nestjs/graphql';
import type { DataSource } from 'typeorm';
import { ValidationError } from '../../../domain/domain-errors';
import { isUuid, type RequestContext } from '../../../domain/request-context';
import type { ImageView } from '../../../projections/entities/image-view.entity';
import type { SnapshotHistory } from '../../../projections/entities/snapshot-history.entity';
import { VIEWS_DB } from '../../../di-tokens';
import { Caller } from '../../auth/request-context.decorator';
import {
  listSnapshotHistory,
  snapshotCursorKey,
  snapshotCursorOf,
} from '../../queries/snapshot-history.query';
import { parseSnapshotHistoryQuery } from '../../rest/snapshot-history-query.parser';
import {
  afterKey,
  connectionComplexity,
  type ConnectionValue,
  PageArgs,
  pageRequest,
  toConnection,
} from '../connection';
import type { GraphqlContext } from '../graphql-context';
import { Image } from '../types/image.type';
import { SnapshotHistoryFilter } from '../types/list-filters.input';
import { SnapshotRecord, SnapshotRecordConnection } from '../types/snapshot-record.type';

/** `snapshotHistory(filter)` across instances, and a snapshot's image. */
@Resolver(() => SnapshotRecord)
export class SnapshotHistoryResolver {
  constructor(@Inject(VIEWS_DB) private readonly db: DataSource) {}

  @Query(() => SnapshotRecordConnection, {
    description: 'Snapshots the caller may see, newest first.',
    complexity: connectionComplexity,
  })
  async snapshotHistory(
    @Caller() caller: RequestContext,
    @Args() args: PageArgs,
    @Args('filter', { type: () => SnapshotHistoryFilter, nullable: true })
    filter?: SnapshotHistoryFilter | null,
  ): Promise<ConnectionValue<SnapshotHistory>> {
    const page = pageRequest(args);
    // result, mode and image are checked exactly as GET /v1/instances/{id}/snapshots does.
    const checked = parseSnapshotHistoryQuery({
      ...(filter?.result != null ? { result: filter.result } : {}),
      ...(filter?.mode != null ? { mode: filter.mode } : {}),
      ...(filter?.imageId != null ? { image: filter.imageId } : {}),
    }).filter;
    if (filter?.instanceId != null && !isUuid(filter.instanceId))
      throw new ValidationError('instanceId must be a uuid.');
    const result = await listSnapshotHistory(
      this.db,
      caller.actor,
      {
        ...checked,
        ...(filter?.instanceId != null ? { instanceId: filter.instanceId } : {}),
        ...(filter?.projectId != null ? { projectId: filter.projectId } : {}),
      },
      { limit: page.first, after: afterKey(page, snapshotCursorKey) },
    );
    return toConnection(result.rows, snapshotCursorOf, result.nextCursor !== null);
  }

  @ResolveField(() => Image, {
    nullable: true,
    description: "The snapshot's image; null once deleted, or if the caller may not see it.",
  })
  image(@Root() row: SnapshotHistory, @Context() ctx: GraphqlContext): Promise<ImageView | null> {
    return ctx.loaders.imageById.load(row.imageId);
  }
}
