import type { Clock } from '../commands/clock';
import type { EventAppender } from '../commands/event-appender';
import type { FaultInjector } from '../commands/fault-injection';
import type { SnapledgerConfig } from '../config/snapledger.config';
import type { DiskImageTool } from '../drivers/disk-image.port';
import type { DomainLifecycleEvents } from '../drivers/domain-lifecycle.port';
import type { Hypervisor } from '../drivers/hypervisor.port';
import type { ImageStore } from '../drivers/image-store.port';
import type { LiveDeltaStore } from '../drivers/live-delta.port';
import type { BackupChainDrivers } from './backup-chain-drivers';

/** What the snapshot steps (src/sagas/steps/) act through. */
export interface SnapshotStepDependencies {
  readonly appender: EventAppender;
  readonly hypervisor: Hypervisor;
  readonly disks: DiskImageTool;
  readonly images: ImageStore;
  readonly clock: Clock;
  readonly config: SnapledgerConfig;
  readonly faults: FaultInjector;
  /** The live path's qcow2 deltas. */
  readonly deltas: LiveDeltaStore;
  /** libvirt's lifecycle events: each snapshot watches its domain's downtime in them. */
  readonly lifecycle: DomainLifecycleEvents;
  /** Incremental backups' chains; null when the image store cannot keep them (Glance). */
  readonly chains: BackupChainDrivers | null;
}
