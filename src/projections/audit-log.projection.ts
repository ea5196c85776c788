import type { EntityManager } from 'typeorm';
import { parseStreamName, StreamCategory } from '../events/stream-names';
import type { RecordedEvent } from '../events/recorded-event';
import { AuditLogEntry } from './entities/audit-log-entry.entity';
import type { ImageView } from './entities/image-view.entity';
import type { InstanceView } from './entities/instance-view.entity';
import { asKnownEvent, type Projection } from './projection';
import { insertRow, lookUpRow } from './plain-sql';
import { perTransaction, rememberedRow } from './transaction-memo';

/**
 * audit_log: one row per event, of every type (unknown types too), keyed by position.
 *
 * The owning project is read from instance_view / image_view as they stand when the event
 * is applied, so this projection must come after those two in the same transaction. An
 * event on an instance stream is owned by the instance's project; one on an image or
 * snapshot stream by the image's owner; either falls back to the other resource. Events
 * that name only an image get the image's instance as their instanceId.
 */
export class AuditLogProjection implements Projection {
  readonly name = 'audit-log';
  readonly tables = ['audit_log'];
  readonly writeOnly = true;

  async apply(event: RecordedEvent, manager: EntityManager): Promise<void> {
    const m = event.metadata;
    const category = streamCategory(event.streamName);
    const imageId =
      idFrom(event.data, 'imageId') ??
      idFrom(event.data, 'removedImageId') ??
      (category?.category === StreamCategory.Image || category?.category === StreamCategory.Snapshot
        ? category.id
        : null);
    const owners = ownersIn(manager);
    // A new registration of the instance may have moved it to another project.
    if (event.type === 'InstanceRegistered' || event.type === 'InstanceRestored') {
      const registered = idFrom(event.data, 'instanceId');
      if (registered !== null) owners.instances.delete(registered);
    }
    const image =
      imageId === null
        ? null
        : await rememberedRow(owners.images, imageId, () =>
            lookUpRow<ImageOwner>(
              manager,
              'SELECT "projectId", "instanceId" FROM image_view WHERE id = :id',
              { id: imageId },
            ),
          );
    // Events such as ConversionProgressed name only the image: its row names the instance.
    const instanceId =
      idFrom(event.data, 'instanceId') ??
      (category?.category === StreamCategory.Instance ||
      category?.category === StreamCategory.BackupChain
        ? category.id
        : null) ??
      image?.instanceId ??
      null;
    // The instance's project decides only for instance streams, or when no image row does.
    const byInstance = category?.category === StreamCategory.Instance || image?.projectId == null;
    const instance =
      instanceId === null || !byInstance
        ? null
        : await rememberedRow(owners.instances, instanceId, () =>
            lookUpRow<InstanceOwner>(
              manager,
              'SELECT "projectId" FROM instance_view WHERE id = :id',
              { id: instanceId },
            ),
          );
    const projectId =
      category?.category === StreamCategory.Instance
        ? (instance?.projectId ?? image?.projectId ?? null)
        : (image?.projectId ?? instance?.projectId ?? null);

    const row: AuditLogEntry = {
      position: event.position,
      eventId: m.eventId,
      streamName: event.streamName,
      type: event.type,
      occurredAt: m.occurredAt,
      actorUserId: m.actor.userId,
      actorUserName: m.actor.userName ?? null,
      actorProjectId: m.actor.projectId,
      actorRoles: m.actor.roles.join(','),
      requestId: m.requestId,
      correlationId: m.correlationId,
      causationId: m.causationId,
      instanceId,
      imageId,
      projectId,
      summary: summarize(event),
      data: withoutOperatorFields(event.data as Record<string, unknown>),
    };
    await insertRow(manager, AuditLogEntry, row);
  }
}

type ImageOwner = Pick<ImageView, 'projectId' | 'instanceId'>;
type InstanceOwner = Pick<InstanceView, 'projectId'>;

/**
 * The owners one transaction has read (transaction-memo.ts): nearly every event needs its
 * image's or instance's project. An image's project and instance never change once reserved;
 * an instance's project changes only when it is registered again, which drops it here.
 */
const ownersIn = perTransaction(() => ({
  images: new Map<string, ImageOwner>(),
  instances: new Map<string, InstanceOwner>(),
}));

/**
 * Where a domain runs and where its disk lives are the operator's business (Nova shows the
 * host to admins only), but every project member reads the audit log. The audit row leaves
 * them out; the raw log (GET /v1/events, admins only) keeps them.
 */
const OPERATOR_FIELDS = ['host', 'diskPath'];

function withoutOperatorFields(data: Record<string, unknown>): Record<string, unknown> {
  if (!OPERATOR_FIELDS.some((key) => key in data)) return data;
  return Object.fromEntries(Object.entries(data).filter(([key]) => !OPERATOR_FIELDS.includes(key)));
}

function streamCategory(streamName: string): { category: string; id: string } | null {
  try {
    return parseStreamName(streamName);
  } catch {
    return null;
  }
}

function idFrom(data: unknown, key: 'instanceId' | 'imageId' | 'removedImageId'): string | null {
  if (typeof data !== 'object' || data === null) return null;
  const value = (data as Record<string, unknown>)[key];
  return typeof value === 'string' && value.length > 0 ? value : null;
}

/** Nova prints an empty task state as None. */
const taskStateText = (state: string | null): string => state ?? 'None';

/** A short human description of an event; the event type for types it does not know. */
export function summarize(recorded: RecordedEvent): string {
  const event = asKnownEvent(recorded);
  switch (event.type) {
    case 'InstanceRegistered': {
      const d = event.data;
      return `instance ${d.domainName} registered: vm_state ${d.vmState}, power_state ${d.powerState}`;
    }
    case 'InstanceDeleted': {
      const d = event.data;
      return d.seen === 'replaced'
        ? `instance deleted: domain ${d.domainName} now belongs to another domain (${String(d.replacedBy)})`
        : `instance deleted: domain ${d.domainName} is no longer defined in libvirt`;
    }
    case 'InstanceRestored':
      return `instance restored: domain ${event.data.domainName} defined again, vm_state ${event.data.vmState}`;
    case 'PowerStateSynced':
      return `power_state ${event.data.powerState}, vm_state ${event.data.vmState}`;
    case 'TaskStateChanged': {
      const d = event.data;
      const text = `task_state ${taskStateText(d.from)} → ${taskStateText(d.to)}`;
      return d.reason ? `${text} (${d.reason})` : text;
    }
    case 'DomainSaved':
      return `domain saved (was ${event.data.priorPowerState}) in ${event.data.durationMs} ms`;
    case 'DomainRestored':
      return `domain restored to ${event.data.powerState} in ${event.data.durationMs} ms`;
    case 'ImageReserved':
      return `${event.data.imageType} image "${event.data.name}" reserved`;
    case 'ConversionProgressed':
      return `conversion ${Math.floor(event.data.percent)}%`;
    case 'ImageExtracted':
      return `image extracted as ${event.data.diskFormat} in ${event.data.durationMs} ms`;
    case 'UploadProgressed': {
      const { bytesSent, totalBytes } = event.data;
      const percent = totalBytes > 0 ? Math.floor((100 * bytesSent) / totalBytes) : 100;
      return `upload to Glance: ${bytesSent} of ${totalBytes} bytes (${percent}%)`;
    }
    case 'Uploaded': {
      const where = event.data.store === 'glance' ? ' to Glance' : '';
      const size =
        event.data.size === null
          ? 'active, its whole image to be hashed next'
          : `${event.data.size} bytes`;
      return `image uploaded${where}: ${size}, ${event.data.diskFormat}/${event.data.containerFormat}`;
    }
    case 'ImageChecksummed':
      return `whole image hashed: ${event.data.size} bytes, md5 ${event.data.checksum}, in ${event.data.durationMs} ms`;
    case 'ImageChecksumFailed':
      return `whole image not hashed, the image stays without checksums: ${event.data.reason}`;
    case 'SnapshotFailed':
      return `snapshot failed at ${event.data.step}: ${event.data.reason}`;
    case 'ImageDeleted':
      return `image deleted (${event.data.reason})`;
    case 'SnapshotPlanned': {
      const d = event.data;
      const block = d.diskKind === 'block' ? ' block device' : '';
      return `${d.mode} snapshot planned: ${d.sourceFormat}${block} → ${d.targetFormat}, domain ${d.priorPowerState}`;
    }
    case 'SnapshotQueued':
      return `snapshot queued at place ${event.data.position}: all ${event.data.limit} slots of the host are taken`;
    case 'GuestQuiesced':
      return `guest filesystems frozen (${event.data.frozenFilesystems}) for ${event.data.durationMs} ms`;
    case 'QuiesceSkipped':
      return `quiesce skipped: ${event.data.reason}`;
    case 'DiskMirrored':
      return `disk mirrored into a delta${event.data.overBackingFile ? ' over its backing file' : ' (full copy)'} in ${event.data.durationMs} ms, domain kept running`;
    case 'DeltaRemoved': {
      const d = event.data;
      const what = d.removedFile ? 'delta removed' : 'no delta left';
      return d.abortedJob ? `${what}; a leftover block copy was aborted` : what;
    }
    case 'DomainSaveStarted':
      return 'domain save started';
    case 'BackupPolicySet':
      return event.data.incremental
        ? 'backup policy: incremental backups'
        : 'backup policy: whole backups';
    case 'BlocksCopied': {
      const d = event.data;
      const what = d.incremental ? 'changed blocks copied' : 'whole disk copied';
      const checkpoint = d.checkpointCreated ? `, checkpoint ${d.checkpointCreated} created` : '';
      return `${what} (${d.method}): ${d.bytesCopied} bytes, ${d.bytesStored} bytes stored, in ${d.durationMs} ms${checkpoint}`;
    }
    case 'ChainLayerAdded': {
      const d = event.data;
      const what = d.imageType === 'snapshot' ? 'snapshot' : 'backup';
      const series =
        d.imageType === 'snapshot' ? 'incremental snapshots' : `series "${d.backupType}"`;
      return d.parentImageId === null
        ? `${what} ${d.imageId} starts a chain of ${series}`
        : `${what} ${d.imageId} added to its chain over ${d.parentImageId}`;
    }
    case 'LayerMergeStarted': {
      const d = event.data;
      return d.childImageId === null
        ? `image ${d.removedImageId} leaves its chain (nothing lies over it)`
        : `merging image ${d.removedImageId} into ${d.childImageId}, which will lie over ${d.newParentImageId ?? 'nothing (whole)'}`;
    }
    case 'LayerMerged': {
      const d = event.data;
      const what =
        d.childImageId === null
          ? `image ${d.removedImageId} left its chain`
          : `image ${d.removedImageId} merged into ${d.childImageId} in ${d.durationMs} ms`;
      if (d.checkpointDeleted) return `${what}; checkpoint ${d.checkpointDeleted} deleted`;
      if (d.checkpointKept) {
        return `${what}; checkpoint ${d.checkpointKept.checkpoint} kept: ${d.checkpointKept.reason}`;
      }
      return what;
    }
    case 'DowntimeObserved': {
      const d = event.data;
      if (d.intervals.length === 0) return 'libvirt saw no downtime';
      const total = d.intervals.reduce((sum, i) => sum + i.durationMs, 0);
      const causes = [...new Set(d.intervals.map((i) => i.cause))].join(', ');
      return `libvirt saw the domain down ${d.intervals.length}× for ${total} ms (${causes})`;
    }
    case 'LogHashesBackfilled':
      return `log positions 1 to ${event.data.upToPosition} hashed after the fact (head ${event.data.headHash})`;
    case 'SnapshotStepRetried':
      return `step ${event.data.step} retried (attempt ${event.data.attempt}): ${event.data.reason}`;
    default:
      return recorded.type;
  }
}
