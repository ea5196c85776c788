import type DataLoader from 'dataloader';
import type { DataSource } from 'typeorm';
import type { Actor } from '../../../events';
import type { ImageView } from '../../../projections/entities/image-view.entity';
import type { AuditLogEntry } from '../../../projections/entities/audit-log-entry.entity';
import type { InstanceView } from '../../../projections/entities/instance-view.entity';
import type { SnapshotHistory } from '../../../projections/entities/snapshot-history.entity';
import type { ConnectionValue, PageRequest } from '../connection';
import type { InstanceAction } from '../types/instance-action.type';
import { actionsByInstanceLoader } from './actions-by-instance.loader';
import { auditByInstanceLoader } from './audit-by-instance.loader';
import { imageByIdLoader } from './image-by-id.loader';
import { instanceByIdLoader } from './instance-by-id.loader';
import { snapshotsByInstanceLoader } from './snapshots-by-instance.loader';

type PagedLoader<T> = DataLoader<string, ConnectionValue<T>>;

/**
 * The DataLoaders of one GraphQL request, made for its caller (so nothing is cached across
 * callers or requests). Paged relations get one loader per distinct `first`/`after`, so
 * the parents that ask for the same page share one batched query.
 */
export class GraphqlLoaders {
  readonly instanceById: DataLoader<string, InstanceView | null>;
  readonly imageById: DataLoader<string, ImageView | null>;
  private readonly paged = new Map<string, PagedLoader<unknown>>();

  constructor(
    private readonly db: DataSource,
    private readonly actor: Actor,
  ) {
    this.instanceById = instanceByIdLoader(db, actor);
    this.imageById = imageByIdLoader(db, actor);
  }

  snapshotsByInstance(page: PageRequest): PagedLoader<SnapshotHistory> {
    return this.pagedLoader('snapshots', page, () => snapshotsByInstanceLoader(this.db, page));
  }

  auditByInstance(page: PageRequest): PagedLoader<AuditLogEntry> {
    return this.pagedLoader('audit', page, () => auditByInstanceLoader(this.db, this.actor, page));
  }

  actionsByInstance(page: PageRequest): PagedLoader<InstanceAction> {
    return this.pagedLoader('actions', page, () =>
      actionsByInstanceLoader(this.db, this.actor, page),
    );
  }

  private pagedLoader<T>(
    relation: string,
    page: PageRequest,
    create: () => PagedLoader<T>,
  ): PagedLoader<T> {
    const key = JSON.stringify([relation, page.first, page.after]);
    let loader = this.paged.get(key) as PagedLoader<T> | undefined;
    if (!loader) {
      loader = create();
      this.paged.set(key, loader as PagedLoader<unknown>);
    }
    return loader;
  }
}
