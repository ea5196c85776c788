import type { BackupJobs } from '../drivers/backup-job.port';
import type { ImageLayers } from '../drivers/image-layers.port';
import type { LocalImageStore } from '../drivers/local-image-store';
import type { EventStore } from '../event-store/event-store.port';
import { foldBackupChains, type BackupChainsState } from '../domain/backup-chain.state';
import { backupChainStream, type ExpectedRevision } from '../events';

/**
 * What incremental backups act through: the log (an instance's backup-chain stream and the
 * images in it), the local image store that keeps chains as qcow2 layers, qemu-img's layer
 * operations and libvirt's backup jobs. Absent when images go to Glance, which keeps whole
 * images only.
 */
export interface BackupChainDrivers {
  readonly log: EventStore;
  readonly store: LocalImageStore;
  readonly layers: ImageLayers;
  readonly jobs: BackupJobs;
}

/** An instance's backup chains as the log has them now, and the revision to append after. */
export async function loadBackupChains(
  log: EventStore,
  instanceId: string,
): Promise<{ state: BackupChainsState; revision: ExpectedRevision }> {
  const events = await log.readStream(backupChainStream(instanceId));
  return {
    state: foldBackupChains(events as never),
    revision: events.at(-1)?.revision ?? 'no_stream',
  };
}
