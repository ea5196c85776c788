import { Inject } from '@nestjs/common';
import { CommandHandler, type ICommandHandler } from '@nestjs/cqrs';
import {
  EVENT_STORE,
  type EventStore,
  WrongExpectedRevisionError,
} from '../event-store/event-store.port';
import { imageStream, instanceStream } from '../events';
import { loadAggregate } from './aggregate-loader';
import { ID_GENERATOR, type IdGenerator } from './clock';
import { CreateImageCommand, type CreateImageResult } from './create-image.command';
import { parseCreateImageBody } from './create-image.validation';
import { InstanceNotFoundError, PolicyForbiddenError } from './domain-errors';
import { EventAppender } from './event-appender';
import { decideReservation } from './image.decider';
import { initialImageState } from './image.state';
import { decideSnapshotRequest, decideTaskRelease } from './instance.decider';
import { foldInstance, type InstanceState } from './instance.state';
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
    @Inject(EVENT_STORE) private readonly store: EventStore,
    private readonly appender: EventAppender,
    @Inject(ID_GENERATOR) private readonly ids: IdGenerator,
  ) {}

  async execute(command: CreateImageCommand): Promise<CreateImageResult> {
    // As in Nova: the body's schema first, then the policy (against the caller's project),
    // then the server.
    const request = parseCreateImageBody(command.body);
    if (!isMemberOrAdmin(command.request.actor)) {
      throw new PolicyForbiddenError('os_compute_api:servers:create_image');
    }
    if (!isUuid(command.instanceId)) throw new InstanceNotFoundError(command.instanceId);
    const instanceId = command.instanceId.toLowerCase();
    const causation = causationFromRequest(command.request);
    const imageId = this.ids.uuid();

    let instance: InstanceState;
    for (let attempt = 1; ; attempt += 1) {
      const loaded = await loadAggregate(this.store, instanceStream(instanceId), foldInstance);
      if (!loaded.state.exists || !canSee(command.request.actor, loaded.state.projectId)) {
        throw new InstanceNotFoundError(instanceId);
      }
      const events = decideSnapshotRequest(loaded.state, {
        instanceId,
        imageId,
        action: 'createImage',
      });
      try {
        await this.appender.append(instanceStream(instanceId), events, loaded.revision, causation);
        instance = loaded.state;
        break;
      } catch (error) {
        if (!(error instanceof WrongExpectedRevisionError) || attempt >= CAS_ATTEMPTS) throw error;
      }
    }

    const { actor } = command.request;
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
      const loaded = await loadAggregate(this.store, instanceStream(instanceId), foldInstance);
      const reason = `the image could not be reserved: ${cause instanceof Error ? cause.message : String(cause)}`;
      await this.appender.append(
        instanceStream(instanceId),
        decideTaskRelease(loaded.state, { imageId, reason }),
        loaded.revision,
        causation,
      );
    } catch {
      // the saga's grace-period check releases it
    }
  }
}
