import { randomUUID } from 'node:crypto';
import {
  Inject,
  Injectable,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import type { DataSource } from 'typeorm';
import { ADMIN_TOKEN_BOOTSTRAP, type AdminTokenBootstrap } from './admin-token.port';
import { BACKGROUND_WORK, PROJECTION_RUNNER, STATE_DB, VIEWS_DB } from './di-tokens';
import { SYSTEM_ACTOR } from './events';
import { SyncInstancesCommand, type SyncInstancesResult } from './commands/sync-instances.command';
import { SNAPLEDGER_CONFIG, type SnapledgerConfig } from './config/snapledger.config';
import { IMAGE_STORE, type ImageStore } from './drivers/image-store.port';
import { EVENT_STORE, type EventStore } from './event-store/event-store.port';
import { LOGGER, type SnapledgerLogger } from './logger';
import type { ProjectionRunner } from './projections/projection-runner';
import { BackupRotationSaga } from './sagas/backup-rotation.saga';
import { SnapshotSaga } from './sagas/snapshot.saga';
import { DOMAIN_LIFECYCLE_EVENTS } from './drivers/domain-lifecycle.port';
import type { VirshLifecycleStream } from './drivers/virsh-lifecycle-stream';
import { InstanceFollower } from './sagas/instance-follower';

/**
 * Starts and stops the service's background work in order: projections, then the snapshot
 * saga (which resumes unfinished snapshots), then a first libvirt sync, then the backup-rotation
 * saga. CLI commands that only need the write side run without background work.
 */
@Injectable()
export class ServiceLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  constructor(
    @Inject(BACKGROUND_WORK) private readonly background: boolean,
    @Inject(PROJECTION_RUNNER) private readonly runner: ProjectionRunner,
    private readonly saga: SnapshotSaga,
    private readonly rotation: BackupRotationSaga,
    @Inject(ADMIN_TOKEN_BOOTSTRAP) private readonly tokens: AdminTokenBootstrap,
    private readonly commands: CommandBus,
    @Inject(IMAGE_STORE) private readonly images: ImageStore,
    @Inject(EVENT_STORE) private readonly store: EventStore,
    @Inject(VIEWS_DB) private readonly views: DataSource,
    @Inject(STATE_DB) private readonly state: DataSource,
    @Inject(SNAPLEDGER_CONFIG) private readonly config: SnapledgerConfig,
    @Inject(LOGGER) private readonly logger: SnapledgerLogger,
    @Inject(DOMAIN_LIFECYCLE_EVENTS) private readonly lifecycle: VirshLifecycleStream,
    private readonly follower: InstanceFollower,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    if (!this.background) return;
    const tokenFile = await this.tokens.bootstrapAdmin(
      this.config.dataDir,
      this.config.defaultProject,
    );
    if (tokenFile)
      this.logger.info(
        { tokenFile },
        `no API tokens existed: wrote an admin token to ${tokenFile} (mode 0600)`,
      );
    await this.runner.start();
    // Before the saga: resumed snapshots watch their domains' downtime in these events.
    this.lifecycle.start();
    const swept = await this.images.sweepStaging(await this.saga.inFlight());
    if (swept.length > 0) this.logger.info({ swept }, 'removed leftover staging files');
    await this.saga.start();
    try {
      const result = await this.commands.execute<SyncInstancesCommand, SyncInstancesResult>(
        new SyncInstancesCommand({ actor: SYSTEM_ACTOR, requestId: `req-${randomUUID()}` }),
      );
      this.logger.info(
        { seen: result.seen, registered: result.registered.length, synced: result.synced.length },
        'libvirt instances synced',
      );
    } catch (error) {
      this.logger.warn(
        { err: error },
        'initial libvirt sync failed; the service runs on, retry with `snapledger instances sync`',
      );
    }
    // From now on libvirt's lifecycle events keep the instances in step (and a periodic sync).
    this.follower.start();
    // Backup rotation last: it only follows finished backups, and must not delay the sync.
    await this.rotation.start();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.background) {
      await this.rotation.stop();
      await this.follower.stop();
      await this.saga.stop();
      await this.lifecycle.stop();
      await this.runner.stop();
    }
    await this.store.close();
    for (const db of [this.views, this.state]) if (db.isInitialized) await db.destroy();
  }
}
