import { imageStream, instanceStream, type ImageReserved, type ImageType } from '../events';
import type { IdGenerator } from './clock';
import { InstanceNotFoundError, PolicyForbiddenError } from '../domain/domain-errors';
import type { EventAppender } from './event-appender';
import { decideReservation } from '../domain/image.decider';
import { initialImageState } from '../domain/image.state';
import {
  decideSnapshotRequest,
  decideTaskRelease,
  type SnapshotRequestAction,
} from '../domain/instance.decider';
import { foldInstance } from '../domain/instance.state';
import {
  canSee,
  causationFromRequest,
  isMemberOrAdmin,
  isUuid,
  type RequestContext,
} from '../domain/request-context';
import { snapshotProperties } from '../domain/snapshot-properties';

/** How often a lost compare-and-swap is re-read and re-decided before giving up. */
const CAS_ATTEMPTS = 5;

/** One validated createImage or createBackup request. */
export interface SnapshotRequest {
  readonly action: SnapshotRequestAction;
  /** Nova's policy rule for the action, named in the 403. */
  readonly policy: string;
  readonly instanceId: string;
  readonly imageType: ImageType;
  readonly name: string;
  /** The user's metadata with the action's own properties (createBackup: backup_type) laid over. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Extra ImageReserved data (createBackup: backupType and rotation). */
  readonly reservation?: Pick<ImageReserved['data'], 'backupType' | 'rotation'>;
  /**
   * createBackup: incremental or not, as the request said; absent, the instance's backup
   * policy decides. createImage: incremental only when the request says so.
   */
  readonly incremental?: boolean;
  readonly request: RequestContext;
}

export interface SnapshotRequestResult {
  readonly imageId: string;
  /** Global position of the last event appended, for read-your-writes. */
  readonly position: number;
}

/**
 * What createImage and createBackup share, after their bodies are validated: the policy
 * check, then load → decide → append on the instance (the task_state compare-and-swap is the
 * append's expected revision; a concurrent change makes us re-read and re-decide, which
 * yields Nova's 409), then the image reservation.
 */
export async function requestSnapshot(
  appender: EventAppender,
  ids: IdGenerator,
  input: SnapshotRequest,
): Promise<SnapshotRequestResult> {
  if (!isMemberOrAdmin(input.request.actor)) throw new PolicyForbiddenError(input.policy);
  if (!isUuid(input.instanceId)) throw new InstanceNotFoundError(input.instanceId);
  const instanceId = input.instanceId.toLowerCase();
  const imageId = ids.uuid();
  const causation = causationFromRequest(input.request);
  const { actor } = input.request;

  const { state: instance } = await appender.decideAndAppend(
    instanceStream(instanceId),
    foldInstance,
    (state) => {
      if (!state.exists || !canSee(actor, state.projectId)) {
        throw new InstanceNotFoundError(instanceId);
      }
      return decideSnapshotRequest(state, { instanceId, imageId, action: input.action });
    },
    causation,
    CAS_ATTEMPTS,
  );

  const { properties, visibility } = snapshotProperties({
    instanceId,
    userId: actor.userId,
    projectId: actor.projectId,
    instanceProjectId: instance.projectId as string,
    imageType: input.imageType,
    baseImageRef: '',
    metadata: input.metadata,
  });
  const reserved = decideReservation(initialImageState, {
    imageId,
    name: input.name,
    instanceId,
    projectId: actor.projectId,
    userId: actor.userId,
    imageType: input.imageType,
    visibility,
    properties,
    ...input.reservation,
    ...(wantsIncremental(input, instance.incrementalBackups) ? { incremental: true } : {}),
  });
  try {
    const result = await appender.append(imageStream(imageId), reserved, 'no_stream', causation);
    return { imageId, position: result?.position ?? 0 };
  } catch (error) {
    await releaseTaskState(appender, instanceId, imageId, causation, error);
    throw error;
  }
}

/** A backup follows the request, else the instance's policy; a snapshot only the request. */
function wantsIncremental(input: SnapshotRequest, policy: boolean): boolean {
  if (input.imageType === 'backup') return input.incremental ?? policy;
  return input.incremental === true;
}

/**
 * The image could not be reserved after the task state was taken: give the task state back
 * at once, so the instance is not held. (If this fails too, the snapshot saga releases it
 * once it sees the task state taken and no image reserved.)
 */
async function releaseTaskState(
  appender: EventAppender,
  instanceId: string,
  imageId: string,
  causation: ReturnType<typeof causationFromRequest>,
  cause: unknown,
): Promise<void> {
  try {
    const reason = `the image could not be reserved: ${cause instanceof Error ? cause.message : String(cause)}`;
    await appender.decideAndAppend(
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
