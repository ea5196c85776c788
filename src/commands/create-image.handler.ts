import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import { imageStream, instanceStream } from '../events';
import { ID_GENERATOR, type IdGenerator } from './clock';
import { CreateImageCommand, type CreateImageResult } from './create-image.command';
import { parseCreateImageBody } from './create-image.validation';
import { InstanceNotFoundError, PolicyForbiddenError } from './domain-errors';
import { EventAppender } from './event-appender';
import { decideReservation } from './image.decider';
import { initialImageState } from './image.state';
import { decideSnapshotRequest, decideTaskRelease } from './instance.decider';
import { foldInstance } from './instance.state';
import { canSee, causationFromRequest, isMemberOrAdmin, isUuid } from './request-context';
import { snapshotProperties } from './snapshot-properties';

/** How often a lost compare-and-swap is re-read and re-decided before giving up. */
const CAS_ATTEMPTS = 5;

/**
 * Load → decide → append. The task_state compare-and-swap is the append's expected
 * revision on the instance stream; a concurrent change makes us re-read and re-decide,
 * which yields Nova's 409 when another snapshot won.
 */
@CommandHandler(CreateImageCommand)
export class CreateImageHandler implements ICommandHandler<CreateImageCommand, CreateImageResult> {
  constructor(
    private readonly appender: EventAppender,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
  ) {}

  async execute(command: CreateImageCommand): Promise<CreateImageResult> {
    // As in Nova: the body's schema first, then the policy (against the caller's project),
    // then the server.
    const request = parseCreateImageBody(command.body, {
      metadataQuota: command.metadataQuota,
    });
    if (!isMemberOrAdmin(command.request.actor)) {
      throw new PolicyForbiddenError('os_compute_api:servers:create_image');
    }
    if (!isUuid(command.instanceId)) throw new InstanceNotFoundError(command.instanceId);
    const instanceId = command.instanceId.toLowerCase();
    const causation = causationFromRequest(command.request);
    const imageId = this.ids.uuid();

    const { actor } = command.request;
    const { state: instance } = await this.appender.decideAndAppend(
      instanceStream(instanceId),
      foldInstance,
      (state) => {
        if (!state.exists || !canSee(actor, state.projectId)) {
          throw new InstanceNotFoundError(instanceId);
        }
        return decideSnapshotRequest(state, { instanceId, imageId, action: 'createImage' });
      },
      causation,
      CAS_ATTEMPTS,
    );

    const { properties, visibility } = snapshotProperties({
      instanceId,
      userId: actor.userId,
      projectId: actor.projectId,
      instanceProjectId: instance.projectId as string,
      imageType: 'snapshot',
      baseImageRef: '',
      metadata: request.metadata,
    });
    const reserved = decideReservation(initialImageState, {
      imageId,
      name: request.name,
      instanceId,
      projectId: actor.projectId,
      userId: actor.userId,
      imageType: 'snapshot',
      visibility,
      properties,
    });
    try {
      const result = await this.appender.append(
        imageStream(imageId),
        reserved,
        'no_stream',
        causation,
      );
      return { imageId, position: result?.position ?? 0 };
    } catch (error) {
      await this.releaseTaskState(instanceId, imageId, causation, error);
      throw error;
    }
  }

  /**
   * The image could not be reserved after the task state was taken: give the task state back
   * at once, so the instance is not held. (If this fails too, the snapshot saga releases it
   * once it sees the task state taken and no image reserved.)
   */
  private async releaseTaskState(
    instanceId: string,
    imageId: string,
    causation: ReturnType<typeof causationFromRequest>,
    cause: unknown,
  ): Promise<void> {
    try {
      const reason = `the image could not be reserved: ${cause instanceof Error ? cause.message : String(cause)}`;
      await this.appender.decideAndAppend(
        instanceStream(instanceId),
        foldInstance,
        (state) => decideTaskRelease(state, { imageId, reason }),
        causation,
        1,
      );
    } catch {
      // the saga's grace-period check releases it
    }
  }
}
