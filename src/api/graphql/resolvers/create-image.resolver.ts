import { ServiceUnavailableException } from '@nestjs/common';
import { Args, ID, Mutation, Resolver } from '@nestjs/graphql';
import { CreateImageCommand, type CreateImageResult } from '../../../commands/create-image.command';
import type { RequestContext } from '../../../domain/request-context';
import type { ImageView } from '../../../projections/entities/image-view.entity';
import { Caller } from '../../auth/request-context.decorator';
import { ReadModels } from '../../read-models.service';
import { WriteCommandBus } from '../../write-command.bus';
import { Image } from '../types/image.type';
import { JSONObjectScalar } from '../types/json-object.scalar';

/**
 * `createImage`: Nova's createImage server action through the same command handler as
 * POST /v2.1/servers/{id}/action (same validation, policy, 404 and 409 rules), answered with
 * the reserved image once the views include it.
 */
@Resolver(() => Image)
export class CreateImageResolver {
  constructor(
    private readonly commands: WriteCommandBus,
    private readonly views: ReadModels,
  ) {}

  @Mutation(() => Image, {
    description: 'Snapshot an instance into a new image (Nova createImage).',
  })
  async createImage(
    @Caller() caller: RequestContext,
    @Args('instanceId', { type: () => ID }) instanceId: string,
    @Args('name') name: string,
    @Args('metadata', { type: () => JSONObjectScalar, nullable: true })
    metadata?: Record<string, unknown> | null,
  ): Promise<ImageView> {
    // The body REST would receive; the handler validates it with Nova's schema.
    const body = { createImage: { name, ...(metadata != null ? { metadata } : {}) } };
    const result = await this.commands.execute<CreateImageCommand, CreateImageResult>(
      new CreateImageCommand(instanceId, body, caller),
    );
    const image = await this.views.image(caller.actor, result.imageId);
    if (!image) {
      throw new ServiceUnavailableException(
        `Image ${result.imageId} was reserved but is not visible yet; query image(id) shortly.`,
      );
    }
    return image;
  }
}
