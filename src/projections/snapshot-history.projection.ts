import { MoreThan, type EntityManager, type Repository } from 'typeorm';
import { isRequestedTaskState, type LayerMerged, type SnapshotPlanned } from '../events';
import type { RecordedEvent } from '../events/recorded-event';
import type { InstanceView } from './entities/instance-view.entity';
import {
  SnapshotHistory,
  type SnapshotHistoryStepName,
  type SnapshotStepRecord,
} from './entities/snapshot-history.entity';
import { downtimeMsOf, type DowntimeRecord } from './downtime';
import { insertRow, lookUpEntity, lookUpRow, updateRows } from './plain-sql';
import { asKnownEvent, msBetween, wholePercent, type Projection } from './projection';
import { perTransaction, rememberedRow } from './transaction-memo';

/**
 * snapshot_history: one row per snapshot, keyed by image id, created by ImageReserved.
 *
 * Steps, in the order their events arrive:
 * - queue (only if the host's concurrency limit made it wait): from SnapshotQueued to its
 *   begin (or its release, if it was stopped while waiting); `queued` is true meanwhile;
 * - begin: from the request (ImageReserved occurredAt) to the task state's
 *   image_snapshot_pending → image_snapshot change;
 * - plan: from the end of the step before it (begin) to SnapshotPlanned, which records the
 *   plan once libvirt and qemu-img have been read;
 * - save, extract, restore, upload: DomainSaved, ImageExtracted, DomainRestored, Uploaded,
 *   with startedAt and durationMs from the event data and finishedAt = occurredAt;
 * - checksum (a chain's backup): ImageChecksummed, timed the same way, after the snapshot
 *   finished; ImageChecksumFailed sets failedStep and failureReason, the result stays active;
 * - live path: quiesce (GuestQuiesced: freeze to thaw; QuiesceSkipped: an instant), mirror
 *   (DiskMirrored), cleanup (DeltaRemoved), timed the same way.
 *
 * Downtime, from what was observed (downtimeIntervals; downtimeMs is their union): the
 * cold path's save, from DomainSaveStarted (or DomainSaved's start, in older logs) to
 * DomainRestored; and the stretches libvirt's lifecycle events showed (DowntimeObserved).
 * A domain that was not running or paused when the snapshot was planned is given 0: there
 * was nothing to take down. Otherwise it is null until something was observed.
 * The snapshot finishes when it releases the task state (TaskStateChanged to null);
 * if it had neither succeeded nor failed by then, it is recorded as killed.
 * An image deleted while its snapshot runs makes the result `deleted`, with who deleted it
 * and the task state it was stopped in as the reason.
 *
 * The API changes the task state (null → image_snapshot_pending) just before it reserves
 * the image, so ImageReserved takes the task state from instance_view: apply this
 * projection after the instance view in the same transaction.
 */
export class SnapshotHistoryProjection implements Projection {
  readonly name = 'snapshot-history';
  readonly tables = ['snapshot_history'];

  async apply(recorded: RecordedEvent, manager: EntityManager): Promise<void> {
    const event = asKnownEvent(recorded);
    const at = event.metadata.occurredAt;
    const repo = manager.getRepository(SnapshotHistory);

    const rows = rowsIn(manager);
    if (event.type === 'InstanceDeleted' || event.type === 'InstanceRestored') {
      rows.clear();
      await updateRows(
        manager,
        SnapshotHistory,
        { instanceId: event.data.instanceId },
        { instanceDeletedAt: event.type === 'InstanceDeleted' ? at : null },
      );
      return;
    }

    if (event.type === 'LayerMerged') {
      rows.clear();
      await applyLayerMerged(event.data, repo);
      return;
    }

    if (event.type === 'ImageReserved') {
      const d = event.data;
      const instance = await lookUpRow<Pick<InstanceView, 'taskState' | 'taskImageId'>>(
        manager,
        'SELECT "taskState", "taskImageId" FROM instance_view WHERE id = :id',
        { id: d.instanceId },
      );
      await insertRow(manager, SnapshotHistory, {
        imageId: d.imageId,
        instanceId: d.instanceId,
        projectId: d.projectId,
        userId: d.userId,
        userName:
          event.metadata.actor.userId === d.userId ? (event.metadata.actor.userName ?? null) : null,
        imageName: d.name,
        imageType: d.imageType,
        requestId: event.metadata.requestId,
        mode: null,
        result: 'running',
        taskState: instance && instance.taskImageId === d.imageId ? instance.taskState : null,
        progress: null,
        failedStep: null,
        failureReason: null,
        steps: [],
        downtimeMs: null,
        downtimeIntervals: [],
        guestFrozenMs: null,
        instanceDeletedAt: null,
        backupKind: null,
        fullReason: null,
        chainId: null,
        chainParentId: null,
        chainLength: null,
        bytesCopied: null,
        bytesStored: null,
        retries: 0,
        queued: false,
        requestedAt: at,
        finishedAt: null,
        durationMs: null,
      });
      return;
    }

    let imageId: string;
    switch (event.type) {
      case 'TaskStateChanged':
      case 'SnapshotPlanned':
      case 'DomainSaved':
      case 'ConversionProgressed':
      case 'ImageExtracted':
      case 'DomainRestored':
      case 'Uploaded':
      case 'SnapshotFailed':
      case 'SnapshotStepRetried':
      case 'SnapshotQueued':
      case 'GuestQuiesced':
      case 'QuiesceSkipped':
      case 'DiskMirrored':
      case 'DeltaRemoved':
      case 'ImageDeleted':
      case 'DomainSaveStarted':
      case 'DowntimeObserved':
      case 'BlocksCopied':
      case 'ImageChecksummed':
      case 'ImageChecksumFailed':
        imageId = event.data.imageId;
        break;
      default:
        return;
    }
    const row = await rememberedRow(rows, imageId, () =>
      lookUpEntity(
        manager,
        SnapshotHistory,
        'SELECT * FROM snapshot_history WHERE "imageId" = :imageId',
        { imageId },
      ),
    );
    if (!row) return;

    const step = (
      name: SnapshotHistoryStepName,
      startedAt: string,
      durationMs: number,
    ): SnapshotStepRecord[] => [
      ...row.steps,
      { step: name, startedAt, finishedAt: at, durationMs },
    ];

    let patch: Partial<SnapshotHistory>;
    switch (event.type) {
      case 'TaskStateChanged': {
        const { from, to, reason } = event.data;
        patch = { taskState: to };
        // A queued snapshot's wait ends when it begins, or when it is released while waiting.
        if (row.queued && (to === null || (isRequestedTaskState(from) && to === 'image_snapshot')))
          Object.assign(patch, endQueue(row.steps, at));
        if (isRequestedTaskState(from) && to === 'image_snapshot') {
          const steps = patch.steps ?? row.steps;
          patch.steps = [
            ...steps,
            {
              step: 'begin',
              startedAt: row.requestedAt,
              finishedAt: at,
              durationMs: msBetween(row.requestedAt, at),
            },
          ];
        }
        if (to === null) {
          patch.finishedAt = at;
          patch.durationMs = msBetween(row.requestedAt, at);
          if (row.result === 'running') {
            patch.result = 'killed';
            patch.failureReason =
              reason ?? 'the snapshot released the task state before it completed';
          }
        }
        break;
      }
      case 'SnapshotPlanned': {
        // The plan reads libvirt and qemu-img right after the begin step: its time is from
        // there to the plan's record (tries included).
        const planFrom = row.steps.at(-1)?.finishedAt ?? row.requestedAt;
        patch = {
          mode: event.data.mode,
          steps: step('plan', planFrom, msBetween(planFrom, at)),
          ...chainPlanned(event.data),
        };
        // A domain that was already off cannot be taken down by the snapshot.
        const prior = event.data.priorPowerState;
        if (prior !== 'running' && prior !== 'paused') patch.downtimeMs = 0;
        break;
      }
      case 'DomainSaveStarted':
        if (row.downtimeIntervals.some((r) => r.source === 'save' && r.endedAt === null)) return;
        patch = withDowntime(row, [saveRecord(event.data.startedAt, row.downtimeIntervals)]);
        break;
      case 'DomainSaved': {
        patch = { steps: step('save', event.data.startedAt, event.data.durationMs) };
        // Logs written before DomainSaveStarted existed: the save's own start.
        if (!row.downtimeIntervals.some((r) => r.source === 'save' && r.endedAt === null)) {
          Object.assign(
            patch,
            withDowntime(row, [saveRecord(event.data.startedAt, row.downtimeIntervals)]),
          );
        }
        break;
      }
      case 'DowntimeObserved':
        patch = withDowntime(
          // Watched: what was seen is the downtime, none at all included.
          { ...row, downtimeMs: row.downtimeMs ?? 0 },
          event.data.intervals.map((i) => ({
            source: 'libvirt' as const,
            cause: i.cause,
            startedAt: i.startedAt,
            endedAt: i.endedAt,
            ongoing: i.ongoing,
          })),
        );
        break;
      case 'ConversionProgressed':
        patch = { progress: wholePercent(event.data.percent) };
        break;
      case 'ImageExtracted':
        patch = { steps: step('extract', event.data.startedAt, event.data.durationMs) };
        break;
      case 'DomainRestored': {
        patch = { steps: step('restore', event.data.startedAt, event.data.durationMs) };
        const records = row.downtimeIntervals.map((r) =>
          r.source === 'save' && r.endedAt === null ? { ...r, endedAt: at } : r,
        );
        Object.assign(patch, withDowntime({ ...row, downtimeIntervals: records }, []));
        break;
      }
      case 'BlocksCopied':
        patch = { bytesCopied: event.data.bytesCopied, bytesStored: event.data.bytesStored };
        break;
      case 'Uploaded': {
        const chain = event.data.chain;
        patch = {
          steps: step('upload', event.data.startedAt, event.data.durationMs),
          progress: 100,
          ...(chain
            ? {
                backupKind: chain.kind,
                chainId: chain.chainId,
                chainParentId: chain.parentImageId,
                chainLength: chain.chainLength,
                bytesCopied: chain.bytesCopied,
                bytesStored: chain.bytesStored,
              }
            : {}),
        };
        if (row.result === 'running') patch.result = 'active';
        break;
      }
      case 'ImageChecksummed':
        patch = { steps: step('checksum', event.data.startedAt, event.data.durationMs) };
        break;
      case 'ImageChecksumFailed':
        patch = { failedStep: 'checksum', failureReason: event.data.reason };
        break;
      case 'SnapshotFailed':
        if (row.result !== 'running') return;
        patch = { result: 'killed', failedStep: event.data.step, failureReason: event.data.reason };
        break;
      case 'SnapshotStepRetried':
        patch = { retries: row.retries + 1 };
        break;
      case 'GuestQuiesced':
        patch = {
          steps: step('quiesce', event.data.startedAt, event.data.durationMs),
          guestFrozenMs: event.data.durationMs,
        };
        break;
      case 'QuiesceSkipped':
        patch = { steps: step('quiesce', at, 0) };
        break;
      case 'DiskMirrored':
        patch = { steps: step('mirror', event.data.startedAt, event.data.durationMs) };
        break;
      case 'DeltaRemoved':
        patch = { steps: step('cleanup', event.data.startedAt, event.data.durationMs) };
        break;
      case 'SnapshotQueued':
        if (row.queued) return;
        patch = { queued: true, steps: step('queue', at, 0) };
        break;
      case 'ImageDeleted': {
        if (row.result !== 'running') return;
        const by = event.metadata.actor.userId;
        const why = event.data.reason === 'rotation' ? 'by backup rotation' : `by user ${by}`;
        patch = {
          result: 'deleted',
          failureReason: `the image was deleted ${why} (request ${event.metadata.requestId}) while the snapshot was in task_state ${String(row.taskState)}; the snapshot was stopped`,
        };
        break;
      }
      default:
        return;
    }
    await updateRows(manager, SnapshotHistory, { imageId }, patch);
    rows.set(imageId, withPatch(row, patch));
  }
}

/**
 * The history rows read or written in one transaction (transaction-memo.ts), as they stand
 * in it. Only this projection writes snapshot_history; its updates by instance and its chain
 * merges touch many rows and empty the map.
 */
const rowsIn = perTransaction(() => new Map<string, SnapshotHistory>());

/** The row after `patch`, whose undefined properties change nothing (as in updateRows). */
function withPatch(row: SnapshotHistory, patch: Partial<SnapshotHistory>): SnapshotHistory {
  const next: Record<string, unknown> = { ...row };
  for (const [key, value] of Object.entries(patch)) if (value !== undefined) next[key] = value;
  return next as unknown as SnapshotHistory;
}

/** What the plan says of a backup asked to be incremental. */
function chainPlanned(
  plan: SnapshotPlanned['data'],
): Partial<Pick<SnapshotHistory, 'backupKind' | 'fullReason' | 'chainId' | 'chainParentId'>> {
  if (plan.notIncremental) return { backupKind: 'full', fullReason: plan.notIncremental };
  if (!plan.chain) return {};
  return {
    backupKind: plan.chain.parentImageId === null ? 'full' : 'incremental',
    fullReason: plan.chain.fullReason,
    chainId: plan.chain.chainId,
    chainParentId: plan.chain.parentImageId,
  };
}

/**
 * An image left its chain: the layer over it now lies over its parent and takes more room,
 * and every image above it in the chain is one shorter from the root.
 */
async function applyLayerMerged(
  merged: LayerMerged['data'],
  repo: Repository<SnapshotHistory>,
): Promise<void> {
  const removed = await repo.findOneBy({ imageId: merged.removedImageId });
  if (merged.childImageId !== null) {
    await repo.update(
      { imageId: merged.childImageId },
      { chainParentId: merged.newParentImageId, bytesStored: merged.childBytesStored },
    );
  }
  if (removed?.chainId && removed.chainLength !== null) {
    const above = await repo.find({
      where: { chainId: removed.chainId, chainLength: MoreThan(removed.chainLength) },
      select: { imageId: true, chainLength: true },
    });
    for (const row of above) {
      if (row.imageId === removed.imageId || row.chainLength === null) continue;
      await repo.update({ imageId: row.imageId }, { chainLength: row.chainLength - 1 });
    }
  }
}

/**
 * The row's downtime records with `added`, and the downtime they add up to; while none of
 * them is closed, the downtime stays as it was (null: nothing observed yet).
 */
function withDowntime(
  row: Pick<SnapshotHistory, 'downtimeIntervals' | 'downtimeMs'>,
  added: readonly DowntimeRecord[],
): Pick<SnapshotHistory, 'downtimeIntervals' | 'downtimeMs'> {
  const all = [...row.downtimeIntervals, ...added];
  const closed = all.some((r) => r.endedAt !== null);
  return { downtimeIntervals: all, downtimeMs: closed ? downtimeMsOf(all) : row.downtimeMs };
}

/** The save's stretch, open until the domain is restored; the first start counts. */
function saveRecord(startedAt: string, records: readonly DowntimeRecord[]): DowntimeRecord {
  const open = records.find((r) => r.source === 'save' && r.endedAt === null);
  return {
    source: 'save',
    cause: 'managedsave',
    startedAt: open && open.startedAt < startedAt ? open.startedAt : startedAt,
    endedAt: null,
    ongoing: false,
  };
}

/**
 * Ends a queued snapshot's wait: its `queue` step (opened by SnapshotQueued as an instant)
 * now runs until `at`.
 */
export function endQueue(
  steps: readonly SnapshotStepRecord[],
  at: string,
): Pick<SnapshotHistory, 'queued' | 'steps'> {
  const index = steps.map((s) => s.step).lastIndexOf('queue');
  if (index < 0) return { queued: false, steps: [...steps] };
  const open = steps[index];
  const closed = { ...open, finishedAt: at, durationMs: msBetween(open.startedAt, at) };
  return { queued: false, steps: [...steps.slice(0, index), closed, ...steps.slice(index + 1)] };
}
