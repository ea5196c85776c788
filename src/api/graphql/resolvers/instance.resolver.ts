import { Inject } from '@nestjs/common';
import { Args, Context, ID, Query, ResolveField, Resolver, Root } from '@nestjs/graphql';
import type { DataSource } from 'typeorm';
import { isAdmin, type RequestContext } from '../../../domain/request-context';
import type { InstanceView } from '../../../projections/entities/instance-view.entity';
import { VIEWS_DB } from '../../../di-tokens';
import { Caller } from '../../auth/request-context.decorator';
import { listInstances } from '../../queries/instance-list.query';
import { decodeCursor, encodeCursor } from '../../queries/query-cursor';
import { ReadModels } from '../../read-models.service';
import {
  afterKey,
  connectionComplexity,
  type ConnectionValue,
  PageArgs,
  pageRequest,
  toConnection,
} from '../connection';
import type { GraphqlContext } from '../graphql-context';
import { AuditEntryConnection } from '../types/audit-entry.type';
import { InstanceActionConnection } from '../types/instance-action.type';
import { Instance, InstanceConnection } from '../types/instance.type';
import { InstanceFilter } from '../types/list-filters.input';
import { SnapshotRecordConnection } from '../types/snapshot-record.type';

/** An instance list cursor names the last instance (Nova's marker). */
const instanceCursorOf = (i: InstanceView) => encodeCursor([i.id]);
const instanceMarker = (cursor: string) => {
  const key = decodeCursor(cursor, 1);
  return typeof key?.[0] === 'string' ? key[0] : null;
};

/** `instances`, `instance(id)` and an instance's nested lists (batched by DataLoaders). */
@Resolver(() => Instance)
export class InstanceResolver {
  constructor(
    @Inject(VIEWS_DB) private readonly db: DataSource,
    private readonly views: ReadModels,
  ) {}

  @Query(() => InstanceConnection, {
    description: 'The instances the caller may see, newest first.',
    complexity: connectionComplexity,
  })
  async instances(
    @Caller() caller: RequestContext,
    @Args() args: PageArgs,
    @Args('filter', { type: () => InstanceFilter, nullable: true }) filter?: InstanceFilter | null,
  ): Promise<ConnectionValue<InstanceView>> {
    const page = pageRequest(args);
    const result = await listInstances(
      this.db,
      caller.actor,
      {
        ...(filter?.name != null ? { name: filter.name } : {}),
        ...(filter?.vmStates != null ? { vmStates: filter.vmStates } : {}),
        ...(filter?.allProjects != null ? { allProjects: filter.allProjects } : {}),
        ...(filter?.projectId != null ? { projectId: filter.projectId } : {}),
      },
      { limit: page.first, marker: afterKey(page, instanceMarker) },
    );
    return toConnection(result.rows, instanceCursorOf, result.nextMarker !== null);
  }

  @Query(() => Instance, {
    nullable: true,
    description: "An instance by id; null if it does not exist or is another project's.",
  })
  instance(
    @Caller() caller: RequestContext,
    @Args('id', { type: () => ID }) id: string,
  ): Promise<InstanceView | null> {
    return this.views.instance(caller.actor, id);
  }

  @ResolveField(() => String, { nullable: true, description: 'The compute host (admins only).' })
  host(@Root() instance: InstanceView, @Context() ctx: GraphqlContext): string | null {
    return isAdmin(ctx.caller.actor) ? instance.host : null;
  }

  @ResolveField(() => String, { nullable: true, description: 'The disk path (admins only).' })
  diskPath(@Root() instance: InstanceView, @Context() ctx: GraphqlContext): string | null {
    return isAdmin(ctx.caller.actor) ? instance.diskPath : null;
  }

  @ResolveField(() => SnapshotRecordConnection, {
    description: 'Its snapshot history, newest first.',
    complexity: connectionComplexity,
  })
  snapshots(
    @Root() instance: InstanceView,
    @Context() ctx: GraphqlContext,
    @Args() args: PageArgs,
  ) {
    return ctx.loaders.snapshotsByInstance(pageRequest(args)).load(instance.id);
  }

  @ResolveField(() => InstanceActionConnection, {
    description: 'Its Nova instance actions (createImage...), newest first.',
    complexity: connectionComplexity,
  })
  actions(@Root() instance: InstanceView, @Context() ctx: GraphqlContext, @Args() args: PageArgs) {
    return ctx.loaders.actionsByInstance(pageRequest(args)).load(instance.id);
  }

  @ResolveField(() => AuditEntryConnection, {
    description: 'Its audit-log entries, oldest first.',
    complexity: connectionComplexity,
  })
  auditLog(@Root() instance: InstanceView, @Context() ctx: GraphqlContext, @Args() args: PageArgs) {
    return ctx.loaders.auditByInstance(pageRequest(args)).load(instance.id);
  }
}
