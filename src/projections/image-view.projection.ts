import type { EntityManager } from 'typeorm';
import type { RecordedEvent } from '../events/recorded-event';
import { ImageView, type ImageStatus } from './entities/image-view.entity';
import { insertRow, lookUpRow, updateRows } from './plain-sql';
import { asKnownEvent, wholePercent, type Projection } from './projection';

/**
 * image_view: one row per image, Glance-shaped.
 * ImageReserved → queued; TaskStateChanged to image_uploading for the image → saving;
 * ConversionProgressed → progress; ImageExtracted → disk format and virtual size;
 * Uploaded → active with size, checksums and formats (progress 100); a chain's backup is
 *   active with no size or checksums until ImageChecksummed gives them;
 * SnapshotFailed → killed with the failing step and reason; ImageDeleted → deleted.
 * A deleted image stays deleted, and a killed image only becomes deleted.
 */
export class ImageViewProjection implements Projection {
  readonly name = 'image-view';
  readonly tables = ['image_view'];

  async apply(recorded: RecordedEvent, manager: EntityManager): Promise<void> {
    const event = asKnownEvent(recorded);
    const at = event.metadata.occurredAt;

    if (event.type === 'ImageReserved') {
      const d = event.data;
      await insertRow(manager, ImageView, {
        id: d.imageId,
        name: d.name,
        status: 'queued',
        visibility: d.visibility ?? 'private',
        projectId: d.projectId,
        userId: d.userId,
        instanceId: d.instanceId,
        imageType: d.imageType,
        properties: { ...d.properties },
        diskFormat: null,
        containerFormat: null,
        size: null,
        virtualSize: null,
        checksum: null,
        osHashAlgo: null,
        osHashValue: null,
        progress: null,
        failedStep: null,
        failureReason: null,
        createdAt: at,
        updatedAt: at,
        deletedAt: null,
      });
      return;
    }

    let imageId: string;
    switch (event.type) {
      case 'TaskStateChanged':
        if (event.data.to !== 'image_uploading') return;
        imageId = event.data.imageId;
        break;
      case 'ConversionProgressed':
      case 'ImageExtracted':
      case 'Uploaded':
      case 'ImageChecksummed':
      case 'SnapshotFailed':
      case 'ImageDeleted':
        imageId = event.data.imageId;
        break;
      default:
        return;
    }
    const row = await lookUpRow<Pick<ImageView, 'status'>>(
      manager,
      'SELECT status FROM image_view WHERE id = :id',
      { id: imageId },
    );
    if (!row || row.status === 'deleted') return;
    const status: ImageStatus = row.status;

    let patch: Partial<ImageView>;
    switch (event.type) {
      case 'TaskStateChanged':
        if (status !== 'queued') return;
        patch = { status: 'saving' };
        break;
      case 'ConversionProgressed':
        if (status === 'killed') return;
        patch = { progress: wholePercent(event.data.percent) };
        break;
      case 'ImageExtracted':
        if (status === 'killed') return;
        patch = { diskFormat: event.data.diskFormat, virtualSize: event.data.virtualSize };
        break;
      case 'Uploaded': {
        if (status === 'killed') return;
        const d = event.data;
        patch = {
          status: 'active',
          size: d.size,
          virtualSize: d.virtualSize,
          checksum: d.checksum,
          osHashAlgo: d.osHashAlgo,
          osHashValue: d.osHashValue,
          diskFormat: d.diskFormat,
          containerFormat: d.containerFormat,
          progress: 100,
        };
        break;
      }
      case 'ImageChecksummed': {
        if (status !== 'active') return;
        const d = event.data;
        patch = {
          size: d.size,
          checksum: d.checksum,
          osHashAlgo: d.osHashAlgo,
          osHashValue: d.osHashValue,
        };
        break;
      }
      case 'SnapshotFailed':
        if (status === 'active' || status === 'killed') return;
        patch = { status: 'killed', failedStep: event.data.step, failureReason: event.data.reason };
        break;
      case 'ImageDeleted':
        patch = { status: 'deleted', deletedAt: at };
        break;
      default:
        return;
    }
    await updateRows(manager, ImageView, { id: imageId }, { ...patch, updatedAt: at });
  }
}
