import { mkdirSync } from 'node:fs';
import { type DynamicModule, Module, type Provider } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { CommandBus, CqrsModule } from '@nestjs/cqrs';
import type { DataSource } from 'typeorm';
import { AuthGuard } from './api/auth/auth.guard';
import { GRAPHQL_PROVIDERS, GraphqlApiModule } from './api/graphql/graphql-api.module';
import {
  OPERATIONS_CONTROLLERS,
  OPERATIONS_PROVIDERS,
  operationsImports,
} from './api/operations.providers';
import { TokenService } from './api/auth/token.service';
import { UserService } from './api/auth/user.service';
import { IdentityController } from './api/identity/identity.controller';
import { IDENTITY_TOKEN_TTL, identityTokenTtlFrom } from './api/identity/identity-token-ttl.config';
import { ReadModels } from './api/read-models.service';
import { WriteCommandBus } from './api/write-command.bus';
import { GlanceImagesController } from './api/rest/glance-images.controller';
import { GlanceImageListController } from './api/rest/glance-image-list.controller';
import { InstancesController } from './api/rest/instances.controller';
import { AuditController } from './api/rest/audit.controller';
import { EventsController } from './api/rest/events.controller';
import { ImageProgressController } from './api/rest/image-progress.controller';
import { ImageVerifyController } from './api/rest/image-verify.controller';
import { LogVerificationController } from './api/rest/log-verification.controller';
import { LogVerificationStatus } from './api/log-integrity/log-verification.status';
import { ImageVerifier } from './drivers/image-verifier';
import { ServerActionsController } from './api/rest/server-actions.controller';
import { ComputeVersionsController } from './api/rest/compute-versions.controller';
import { ImageVersionsController } from './api/rest/image-versions.controller';
import { GlanceSchemasController } from './api/rest/glance-schemas.controller';
import { FlavorsController } from './api/rest/flavors.controller';
import { ComputeServicesController } from './api/rest/compute-services.controller';
import { InstanceActionsController } from './api/rest/instance-actions.controller';
import { ServersController } from './api/rest/servers.controller';
import {
  CLOCK,
  ID_GENERATOR,
  randomIds,
  systemClock,
  type Clock,
  type IdGenerator,
} from './commands/clock';
import { CreateBackupHandler } from './commands/create-backup.handler';
import { CreateImageHandler } from './commands/create-image.handler';
import { DeleteImageHandler } from './commands/delete-image.handler';
import { SetBackupPolicyHandler } from './commands/set-backup-policy.handler';
import { EventAppender } from './commands/event-appender';
import { FAULT_INJECTOR, FaultInjector } from './commands/fault-injection';
import { SyncInstancesHandler } from './commands/sync-instances.handler';
import { SNAPLEDGER_CONFIG, type SnapledgerConfig } from './config/snapledger.config';
import { DISK_IMAGE_TOOL, type DiskImageTool } from './drivers/disk-image.port';
import { HYPERVISOR, type Hypervisor } from './drivers/hypervisor.port';
import { IMAGE_STORE, type ImageStore } from './drivers/image-store.port';
import { fixedGlanceToken, GlanceClient } from './drivers/glance-client';
import { KeystoneSession } from './drivers/keystone-session';
import { GlanceImageStore } from './drivers/glance-image-store';
import { LocalImageStore } from './drivers/local-image-store';
import { QemuImgLayers } from './drivers/qemu-img-layers';
import { VirshBackupJobs } from './drivers/virsh-backup-jobs';
import type { BackupChainDrivers } from './sagas/backup-chain-drivers';
import { readBootId } from './drivers/host-boot';
import { QemuImgTool } from './drivers/qemu-img.driver';
import { VirshHypervisor } from './drivers/virsh.driver';
import {
  DOMAIN_LIFECYCLE_EVENTS,
  type DomainLifecycleEvents,
} from './drivers/domain-lifecycle.port';
import { VirshLifecycleStream } from './drivers/virsh-lifecycle-stream';
import { KNOWN_INSTANCES, type KnownInstances } from './commands/sync-instances.command';
import { KnownInstancesFromViews } from './projections/known-instances.query';
import { InstanceFollower } from './sagas/instance-follower';
import { QemuImgDeltaStore } from './drivers/qemu-img-delta-store';
import { EVENT_STORE, type EventStore } from './event-store/event-store.port';
import { storageLocations } from './database/storage-locations';
import { LOGGER, type SnapledgerLogger } from './logger';
import { ProjectionRunner, createViewProjections } from './projections/projection-runner';
import { createViewsDataSource } from './projections/views.data-source';
import { BackupRotationSaga, createBackupRotationDataSource } from './sagas/backup-rotation.saga';
import { SnapshotSaga } from './sagas/snapshot.saga';
import { SnapshotSteps } from './sagas/snapshot-steps';
import { createServiceStateDataSource } from './service-state.data-source';
import { ServiceLifecycle } from './service-lifecycle';
import {
  BACKUP_CHAIN_DRIVERS,
  IMAGE_VERIFIER,
  PROJECTION_RUNNER,
  SERVICE_ROLE,
  STATE_DB,
  VIEWS_DB,
} from './di-tokens';
import type { ServiceRole } from './service-role';
import { everySnapshot, snapshotsOnHost } from './sagas/snapshot-ownership';
import { ADMIN_TOKEN_BOOTSTRAP } from './admin-token.port';
import { preparePrivateDataFiles } from './config/private-data-files';

export interface AppOptions {
  /** Serve the HTTP API. */
  readonly http: boolean;
  /**
   * The background work to run (service-role.ts): `serve` is all-in-one or api, `agent` is
   * an agent; null for CLI commands, which run none.
   */
  readonly role: ServiceRole | null;
}

@Module({})
export class AppModule {
  static forRoot(
    config: SnapledgerConfig,
    logger: SnapledgerLogger,
    options: AppOptions,
  ): DynamicModule {
    mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    const storage = storageLocations(config);
    preparePrivateDataFiles(storage.privateFiles);
    // An agent speaks for one host: its instances, its snapshots, its staging directory.
    const agentHost = options.role === 'agent' ? config.hostName : null;
    const layers = new QemuImgLayers();
    const providers: Provider[] = [
      { provide: SNAPLEDGER_CONFIG, useValue: config },
      { provide: LOGGER, useValue: logger },
      { provide: SERVICE_ROLE, useValue: options.role },
      { provide: CLOCK, useValue: systemClock },
      { provide: ID_GENERATOR, useValue: randomIds },
      { provide: FAULT_INJECTOR, useValue: new FaultInjector(config.faults) },
      { provide: EVENT_STORE, useFactory: () => storage.openEventStore() },
      {
        // After the event store: a database it refuses (another release's schema) must not
        // get view or state tables first.
        provide: VIEWS_DB,
        inject: [EVENT_STORE],
        useFactory: async () => {
          const db = createViewsDataSource(storage.views);
          await db.initialize();
          return db;
        },
      },
      {
        provide: STATE_DB,
        inject: [EVENT_STORE],
        useFactory: async () => {
          const db = createServiceStateDataSource(storage.state);
          await db.initialize();
          return db;
        },
      },
      { provide: HYPERVISOR, useFactory: () => new VirshHypervisor(config.libvirtUri) },
      {
        provide: KNOWN_INSTANCES,
        inject: [VIEWS_DB],
        // On a shared database a sync only judges its own host's instances missing (another
        // host's are not in this libvirt): agents, and `instances sync` run on a host.
        useFactory: (db: DataSource) =>
          new KnownInstancesFromViews(db, config.databaseUrl ? config.hostName : null),
      },
      {
        provide: InstanceFollower,
        inject: [DOMAIN_LIFECYCLE_EVENTS, CommandBus, KNOWN_INSTANCES],
        useFactory: (events: DomainLifecycleEvents, commands: CommandBus, known: KnownInstances) =>
          new InstanceFollower(
            events,
            commands,
            known,
            logger.child({ component: 'instance-follower' }),
            config.syncIntervalMs,
          ),
      },
      {
        provide: DOMAIN_LIFECYCLE_EVENTS,
        useFactory: () =>
          new VirshLifecycleStream(
            config.libvirtUri,
            logger.child({ component: 'libvirt-events' }),
          ),
      },
      { provide: DISK_IMAGE_TOOL, useFactory: () => new QemuImgTool() },
      {
        provide: IMAGE_STORE,
        inject: [FAULT_INJECTOR],
        useFactory: (faults: FaultInjector): ImageStore => {
          const killAt = (point: string) => faults.hit(`kill-at:${point}`);
          const local = new LocalImageStore(config.imageDir, killAt, agentHost, layers);
          const where = config.imageStore;
          if (where.kind === 'local') return local;
          const auth = where.keystone
            ? new KeystoneSession(where.keystone)
            : fixedGlanceToken(where.token);
          return new GlanceImageStore(local, new GlanceClient(where.url, auth), killAt);
        },
      },
      {
        provide: IMAGE_VERIFIER,
        inject: [IMAGE_STORE, DISK_IMAGE_TOOL],
        useFactory: (images: ImageStore, disks: DiskImageTool): ImageVerifier | null =>
          images instanceof LocalImageStore ? new ImageVerifier(images, layers, disks) : null,
      },
      {
        provide: BACKUP_CHAIN_DRIVERS,
        inject: [EVENT_STORE, IMAGE_STORE],
        useFactory: (log: EventStore, images: ImageStore): BackupChainDrivers | null =>
          images instanceof LocalImageStore
            ? { log, store: images, layers, jobs: new VirshBackupJobs(config.libvirtUri) }
            : null,
      },
      {
        provide: EventAppender,
        inject: [EVENT_STORE, CLOCK, ID_GENERATOR, FAULT_INJECTOR],
        useFactory: (store: EventStore, clock: Clock, ids: IdGenerator, faults: FaultInjector) =>
          new EventAppender(store, clock, ids, faults),
      },
      {
        provide: PROJECTION_RUNNER,
        inject: [EVENT_STORE, VIEWS_DB],
        useFactory: (store: EventStore, db: DataSource) =>
          new ProjectionRunner(
            store,
            db,
            createViewProjections(),
            logger.child({ component: 'projections' }),
          ),
      },
      {
        provide: SnapshotSaga,
        inject: [
          EVENT_STORE,
          STATE_DB,
          EventAppender,
          HYPERVISOR,
          DISK_IMAGE_TOOL,
          IMAGE_STORE,
          CLOCK,
          FAULT_INJECTOR,
          DOMAIN_LIFECYCLE_EVENTS,
          BACKUP_CHAIN_DRIVERS,
        ],
        useFactory: (
          store: EventStore,
          db: DataSource,
          appender: EventAppender,
          hypervisor: Hypervisor,
          disks: DiskImageTool,
          images: ImageStore,
          clock: Clock,
          faults: FaultInjector,
          lifecycle: DomainLifecycleEvents,
          chains: BackupChainDrivers | null,
        ) =>
          new SnapshotSaga(
            store,
            db,
            new SnapshotSteps(
              {
                appender,
                hypervisor,
                disks,
                images,
                clock,
                config,
                faults,
                deltas: new QemuImgDeltaStore(config.deltaDir),
                lifecycle,
                chains,
              },
              readBootId(),
            ),
            logger.child({ component: 'snapshot-saga' }),
            {
              attempts: config.stepAttempts,
              backoffMs: config.stepBackoffMs,
              maxBackoffMs: config.stepBackoffMaxMs,
              maxConcurrentSnapshots: config.maxConcurrentSnapshots,
              ownership: agentHost === null ? everySnapshot : snapshotsOnHost(store, agentHost),
            },
            appender,
          ),
      },
      {
        provide: BackupRotationSaga,
        inject: [EVENT_STORE, EventAppender],
        useFactory: (store: EventStore, appender: EventAppender) =>
          new BackupRotationSaga(
            store,
            createBackupRotationDataSource(storage.rotation),
            appender,
            logger.child({ component: 'backup-rotation-saga' }),
          ),
      },
      {
        provide: TokenService,
        inject: [STATE_DB],
        useFactory: (db: DataSource) => new TokenService(db),
      },
      { provide: ADMIN_TOKEN_BOOTSTRAP, useExisting: TokenService },
      {
        provide: UserService,
        inject: [STATE_DB],
        useFactory: (db: DataSource) => new UserService(db),
      },
      { provide: IDENTITY_TOKEN_TTL, useFactory: () => identityTokenTtlFrom(process.env) },
      {
        provide: ReadModels,
        inject: [VIEWS_DB],
        useFactory: (db: DataSource) => new ReadModels(db),
      },
      CreateImageHandler,
      CreateBackupHandler,
      DeleteImageHandler,
      SetBackupPolicyHandler,
      SyncInstancesHandler,
      ServiceLifecycle,
    ];
    if (options.http)
      providers.push(
        { provide: APP_GUARD, useClass: AuthGuard },
        WriteCommandBus,
        LogVerificationStatus,
      );
    if (options.http) providers.push(...GRAPHQL_PROVIDERS);
    if (options.http) providers.push(...OPERATIONS_PROVIDERS);
    return {
      module: AppModule,
      imports: [
        CqrsModule.forRoot(),
        ...(options.http ? [...operationsImports(), GraphqlApiModule.forRoot()] : []),
      ],
      controllers: options.http
        ? [
            ServerActionsController,
            ServersController,
            InstanceActionsController,
            ComputeVersionsController,
            IdentityController,
            ImageVersionsController,
            GlanceSchemasController,
            FlavorsController,
            ComputeServicesController,
            GlanceImagesController,
            GlanceImageListController,
            InstancesController,
            AuditController,
            EventsController,
            ImageProgressController,
            ImageVerifyController,
            LogVerificationController,
            ...OPERATIONS_CONTROLLERS,
          ]
        : [],
      providers,
    };
  }
}
