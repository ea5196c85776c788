import type { SnapshotHistory } from '../../projections/entities/snapshot-history.entity';

/** One snapshot-history row in the native API's snake_case shape. */
export const snapshotShape = (s: SnapshotHistory) => ({
  image_id: s.imageId,
  image_name: s.imageName,
  image_type: s.imageType,
  instance_id: s.instanceId,
  project_id: s.projectId,
  user_id: s.userId,
  user_name: s.userName,
  request_id: s.requestId,
  mode: s.mode,
  result: s.result,
  task_state: s.taskState,
  progress: s.progress,
  failed_step: s.failedStep,
  failure_reason: s.failureReason,
  steps: s.steps,
  downtime_ms: s.downtimeMs,
  downtime_intervals: s.downtimeIntervals.map((r) => ({
    source: r.source,
    cause: r.cause,
    started_at: r.startedAt,
    ended_at: r.endedAt,
    ongoing: r.ongoing,
  })),
  guest_frozen_ms: s.guestFrozenMs,
  backup:
    s.backupKind === null
      ? null
      : {
          kind: s.backupKind,
          full_reason: s.fullReason,
          chain_id: s.chainId,
          parent_image_id: s.chainParentId,
          chain_length: s.chainLength,
          bytes_copied: s.bytesCopied,
          bytes_stored: s.bytesStored,
        },
  instance_deleted_at: s.instanceDeletedAt,
  retries: s.retries,
  queued: s.queued,
  requested_at: s.requestedAt,
  finished_at: s.finishedAt,
  duration_ms: s.durationMs,
});
