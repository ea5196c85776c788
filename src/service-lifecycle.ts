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
import { PROJECTION_RUNNER, SERVICE_ROLE, STATE_DB, VIEWS_DB } from './di-tokens';
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
import type { ServiceRole } from './service-role';
import {
  AdvisoryLease,
  agentLeaseName,
  LeaseHeldError,
  VIEWS_LEASE,
} from './database/advisory-lease';

/**
 * Starts and stops the service's background work in order, by role (service-role.ts):
 * - all-in-one: projections, then the snapshot saga (which resumes unfinished snapshots),
 *   then a first libvirt sync and the lifecycle follower, then the backup-rotation saga;
 * - api: the projections and backup rotation, in the one API process holding the views
 *   lease; the others watch the stored checkpoints and wait in the lease's queue, taking it
 *   over as soon as the holder's connection ends;
 * - agent: its host's lease first (a second agent for the host stops here, with an error),
 *   then the lifecycle stream, the snapshot saga for its host's instances, the sync and the
 *   follower.
 * CLI commands that only need the write side run with no role and start nothing.
 */
@Injectable()
export class ServiceLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly leases: AdvisoryLease[] = [];
  private readonly stopLeaseWait = new AbortController();

  constructor(
    @Inject(SERVICE_ROLE) private readonly role: ServiceRole | null,
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
    try {
      await this.startRole();
    } catch (error) {
      // Nest does not shut down what failed to start: release the leases, pools and streams
      // opened so far, so that the command ends with its message and nothing keeps it alive.
      await this.onApplicationShutdown();
      throw error;
    }
  }

  private async startRole(): Promise<void> {
    if (this.role === null) return;
    if (this.role === 'agent') return this.startAgent();
    await this.bootstrapAdminToken();
    if (this.role === 'api') return this.startApi();
    if (this.config.databaseUrl) await this.claimSharedDatabase(this.config.databaseUrl);
    await this.runner.start();
    await this.startHostWork();
    // Backup rotation last: it only follows finished backups, and must not delay the sync.
    await this.rotation.start();
  }

  private async bootstrapAdminToken(): Promise<void> {
    const tokenFile = await this.tokens.bootstrapAdmin(
      this.config.dataDir,
      this.config.defaultProject,
    );
    if (tokenFile)
      this.logger.info(
        { tokenFile },
        `no API tokens existed: wrote an admin token to ${tokenFile} (mode 0600)`,
      );
  }

  /** The libvirt side: lifecycle events, the snapshot saga, the first sync, the follower. */
  private async startHostWork(): Promise<void> {
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
  }

  private async startAgent(): Promise<void> {
    const name = agentLeaseName(this.config.hostName);
    const lease = await AdvisoryLease.acquire(this.sharedDatabase(), name, {
      onLost: (error) => this.leaseLost(name, error),
    });
    this.leases.push(lease);
    this.logger.info(
      { host: this.config.hostName, libvirtUri: this.config.libvirtUri },
      'agent holds its host lease',
    );
    await this.startHostWork();
  }

  private async startApi(): Promise<void> {
    const url = this.sharedDatabase();
    let lease: AdvisoryLease | null = null;
    try {
      lease = await AdvisoryLease.acquire(url, VIEWS_LEASE, {
        onLost: (error) => this.leaseLost(VIEWS_LEASE, error),
      });
    } catch (error) {
      if (!(error instanceof LeaseHeldError)) throw error;
      this.logger.info(
        { holder: error.message },
        'another API process keeps the views; this one serves from them and stands by',
      );
    }
    if (lease) return this.keepViews(lease);
    this.runner.watch();
    void AdvisoryLease.acquireWhenFree(url, VIEWS_LEASE, {
      signal: this.stopLeaseWait.signal,
      onLost: (error) => this.leaseLost(VIEWS_LEASE, error),
    })
      .then(async (taken) => {
        if (!taken) return;
        this.logger.info({}, 'took over the views lease');
        await this.keepViews(taken);
      })
      .catch((error: unknown) =>
        this.leaseLost(VIEWS_LEASE, error instanceof Error ? error : new Error(String(error))),
      );
  }

  /**
   * The all-in-one service on a shared database keeps the views and runs every host's
   * snapshots: it must be the only one doing either. It refuses to start beside an API
   * process (which holds the views lease) or a running agent.
   */
  private async claimSharedDatabase(url: string): Promise<void> {
    let lease: AdvisoryLease;
    try {
      lease = await AdvisoryLease.acquire(url, VIEWS_LEASE, {
        onLost: (error) => this.leaseLost(VIEWS_LEASE, error),
      });
    } catch (error) {
      if (!(error instanceof LeaseHeldError)) throw error;
      throw new Error(
        `another snapledger process keeps this database's views (${error.message}): an all-in-one serve cannot share the database with it; start this one with --role api`,
        { cause: error },
      );
    }
    this.leases.push(lease);
    const agents = await lease.agentsRunning();
    if (agents.length > 0)
      throw new Error(
        `agents are running for ${agents.join(', ')} on this database: an all-in-one serve would run their snapshots too; start this one with --role api`,
      );
  }

  private async keepViews(lease: AdvisoryLease): Promise<void> {
    this.leases.push(lease);
    this.runner.stopWatching();
    await this.runner.start();
    await this.rotation.start();
  }

  private sharedDatabase(): string {
    const url = this.config.databaseUrl;
    if (!url)
      throw new Error(
        `the ${this.role} role needs SNAPLEDGER_DATABASE_URL: a PostgreSQL database that the API and every agent share`,
      );
    return url;
  }

  /**
   * A lease whose connection ended may already be another process's: carrying on could run
   * a host's snapshots twice. The process stops (non-zero) and its supervisor restarts it.
   */
  private leaseLost(name: string, error: Error): void {
    this.logger.error({ err: error, lease: name }, 'lost the lease; stopping');
    process.exitCode = 1;
    process.kill(process.pid, 'SIGTERM');
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopLeaseWait.abort();
    if (this.role !== null) {
      await this.rotation.stop();
      await this.follower.stop();
      await this.saga.stop();
      await this.lifecycle.stop();
      this.runner.stopWatching();
      await this.runner.stop(); // a runner this process never started stops at once
    }
    for (const lease of this.leases.splice(0)) await lease.release();
    await this.store.close();
    for (const db of [this.views, this.state]) if (db.isInitialized) await db.destroy();
  }
}
