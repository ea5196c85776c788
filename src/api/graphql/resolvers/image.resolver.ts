import { Inject } from '@nestjs/common';
import { Args, Context, ID, Query, ResolveField, Resolver, Root } from '@nestjs/graphql';
import type { DataSource } from 'typeorm';
import { ValidationError } from '../../../domain/domain-errors';
import type { RequestContext } from '../../../domain/request-context';
import type { ImageView } from '../../../projections/entities/image-view.entity';
import type { InstanceView } from '../../../projections/entities/instance-view.entity';
import { VIEWS_DB } from '../../../di-tokens';
import { Caller } from '../../auth/request-context.decorator';
import {
  type ImageListFilter,
  type ImageVisibilityFilter,
  listImages,
} from '../../queries/image-list.query';
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
import { Image, ImageConnection } from '../types/image.type';
import { Instance } from '../types/instance.type';
import { ImageFilter } from '../types/list-filters.input';

const VISIBILITIES: readonly ImageVisibilityFilter[] = [
  'private',
  'shared',
  'public',
  'community',
  'all',
];

/** An image list cursor names the last image (Glance's marker). */
const imageCursorOf = (i: ImageView) => encodeCursor([i.id]);
const imageMarker = (cursor: string) => {
  const key = decodeCursor(cursor, 1);
  return typeof key?.[0] === 'string' ? key[0] : null;
};

/** The GraphQL filter in listImages' terms. */
function imageListFilter(filter: ImageFilter | null | undefined): ImageListFilter {
  if (!filter) return {};
  const visibility = filter.visibility ?? undefined;
  if (visibility !== undefined && !(VISIBILITIES as readonly string[]).includes(visibility)) {
    throw new ValidationError(`visibility must be one of ${VISIBILITIES.join(', ')}`);
  }
  return {
    ...(filter.name != null ? { names: [filter.name] } : {}),
    ...(filter.status != null ? { statuses: [filter.status] } : {}),
    ...(visibility !== undefined ? { visibility: visibility as ImageVisibilityFilter } : {}),
    ...(filter.owner != null ? { owner: filter.owner } : {}),
    ...(filter.instanceId != null ? { instanceUuid: filter.instanceId.toLowerCase() } : {}),
    ...(filter.imageType != null ? { imageType: filter.imageType } : {}),
  };
}

/** `images(filter)`, `image(id)` and an image's instance. */
@Resolver(() => Image)
export class ImageResolver {
  constructor(
    @Inject(VIEWS_DB) private readonly db: DataSource,
    private readonly views: ReadModels,
  ) {}

  @Query(() => ImageConnection, {
    description: 'The images the caller may see (Glance rules), newest first.',
    complexity: connectionComplexity,
  })
  async images(
    @Caller() caller: RequestContext,
    @Args() args: PageArgs,
    @Args('filter', { type: () => ImageFilter, nullable: true }) filter?: ImageFilter | null,
  ): Promise<ConnectionValue<ImageView>> {
    const page = pageRequest(args);
    const result = await listImages(this.db, caller.actor, imageListFilter(filter), {
      limit: page.first,
      marker: afterKey(page, imageMarker),
    });
    return toConnection(result.images, imageCursorOf, result.nextMarker !== null);
  }

  @Query(() => Image, {
    nullable: true,
    description: "An image by id; null if it does not exist, was deleted or is another project's.",
  })
  image(
    @Caller() caller: RequestContext,
    @Args('id', { type: () => ID }) id: string,
  ): Promise<ImageView | null> {
    return this.views.image(caller.actor, id);
  }

  @ResolveField(() => Instance, {
    nullable: true,
    description: "The instance it was taken of; null if that is another project's.",
  })
  instance(@Root() image: ImageView, @Context() ctx: GraphqlContext): Promise<InstanceView | null> {
    return ctx.loaders.instanceById.load(image.instanceId);
  }
}
