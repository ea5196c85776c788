import {
  BadRequestException,
  Body,
  ConflictException,
  Controller,
  Get,
  HttpCode,
  Inject,
  NotFoundException,
  Param,
  Post,
  Put,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import {
  SetBackupPolicyCommand,
  type SetBackupPolicyResult,
} from '../../commands/set-backup-policy.command';
import { isAdmin, type RequestContext } from '../../domain/request-context';
import {
  SyncInstancesCommand,
  type SyncInstancesResult,
} from '../../commands/sync-instances.command';
import type { InstanceView } from '../../projections/entities/instance-view.entity';
import { AdminCaller, Caller } from '../auth/request-context.decorator';
import { ReadModels } from '../read-models.service';
import { WriteCommandBus } from '../write-command.bus';
import type { ProjectionRunner } from '../../projections/projection-runner';
import type { Request, Response } from 'express';
import { ViewResponseCache } from './view-response.cache';
import { listSnapshotHistory } from '../queries/snapshot-history.query';
import { PROJECTION_RUNNER, SERVICE_ROLE, VIEWS_DB } from '../../di-tokens';
import { drivesHypervisor, type ServiceRole } from '../../service-role';
import type { DataSource } from 'typeorm';
import { linkWith, type RawQuery } from './query-params.parser';
import { parseSnapshotHistoryQuery } from './snapshot-history-query.parser';
import { snapshotShape } from './snapshot-history.shape';

/** The host and the disk path are the operator's business: admins only, as Nova shows the host. */
const instanceShape = (i: InstanceView, admin: boolean) => ({
  id: i.id,
  name: i.name,
  project_id: i.projectId,
  user_id: i.userId,
  vm_state: i.vmState,
  power_state: i.powerState,
  task_state: i.taskState,
  disk_path: admin ? i.diskPath : null,
  disk_format: i.diskFormat,
  vcpus: i.vcpus,
  memory_mib: i.memoryMiB,
  host: admin ? i.host : null,
  backup_policy: { incremental: i.incrementalBackups },
  created_at: i.createdAt,
  updated_at: i.updatedAt,
});

/** snapledger's native routes about instances and their snapshot history. */
@Controller('v1')
export class InstancesController {
  constructor(
    private readonly views: ReadModels,
    private readonly commands: WriteCommandBus,
    @Inject(PROJECTION_RUNNER) private readonly runner: ProjectionRunner,
    @Inject(VIEWS_DB) private readonly db: DataSource,
    @Inject(SERVICE_ROLE) private readonly role: ServiceRole | null,
  ) {}

  /** Serialised history pages, valid while the projections stay at one position. */
  private readonly historyPages = new ViewResponseCache();

  @Get('instances')
  async list(@Caller() caller: RequestContext) {
    return {
      instances: (await this.views.instances(caller.actor)).map((i) =>
        instanceShape(i, isAdmin(caller.actor)),
      ),
    };
  }

  @Get('instances/:id')
  async show(@Param('id') id: string, @Caller() caller: RequestContext) {
    const instance = await this.views.instance(caller.actor, id);
    if (!instance) throw new NotFoundException(`Instance ${id} could not be found.`);
    return { instance: instanceShape(instance, isAdmin(caller.actor)) };
  }

  /**
   * The instance's snapshot history, newest first, keyset-paged (limit, cursor): one
   * primary-key read for visibility, then one indexed query with a LIMIT. The serialised
   * page is kept until the projections move (ViewResponseCache) and carries an ETag.
   */
  @Get('instances/:id/snapshots')
  async snapshots(
    @Param('id') id: string,
    @Query() query: RawQuery,
    @Caller() caller: RequestContext,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const { filter, page } = parseSnapshotHistoryQuery(query);
    const { actor } = caller;
    const scope = isAdmin(actor) ? 'admin' : `project:${actor.projectId}`;
    const key = JSON.stringify([scope, id, query]);
    const cached = await this.historyPages.get(this.runner.position, key, async () => {
      // A deleted instance's history stays readable, as its images do.
      if (!(await this.views.instance(actor, id, { includeDeleted: true })))
        throw new NotFoundException(`Instance ${id} could not be found.`);
      const result = await listSnapshotHistory(this.db, actor, { ...filter, instanceId: id }, page);
      return {
        snapshots: result.rows.map(snapshotShape),
        next_cursor: result.nextCursor,
        next:
          result.nextCursor === null
            ? null
            : linkWith(`/v1/instances/${encodeURIComponent(id)}/snapshots`, query, {
                cursor: result.nextCursor,
              }),
      };
    });
    res.setHeader('ETag', cached.etag);
    if (req.headers['if-none-match'] === cached.etag) {
      res.status(304).end();
      return;
    }
    res.status(200).type('application/json').send(cached.body);
  }

  /**
   * The instance's backup policy: `{"incremental": true}` makes every createBackup of it
   * incremental (the real openstack client's included), unless the request says otherwise.
   */
  @Put('instances/:id/backup-policy')
  @HttpCode(200)
  async setBackupPolicy(
    @Param('id') id: string,
    @Body() body: unknown,
    @Caller() caller: RequestContext,
  ) {
    // An instance the caller cannot see is 404 whatever the body says.
    if (!(await this.views.instance(caller.actor, id))) {
      throw new NotFoundException(`Instance ${id} could not be found.`);
    }
    const incremental =
      typeof body === 'object' && body !== null && !Array.isArray(body)
        ? (body as Record<string, unknown>)['incremental']
        : undefined;
    const keys = typeof body === 'object' && body !== null ? Object.keys(body) : [];
    if (typeof incremental !== 'boolean' || keys.length !== 1) {
      throw new BadRequestException(
        'The body must be {"incremental": true} or {"incremental": false}, with no other keys.',
      );
    }
    const result = await this.commands.execute<SetBackupPolicyCommand, SetBackupPolicyResult>(
      new SetBackupPolicyCommand(id, incremental, caller),
    );
    return { backup_policy: { incremental: result.incremental } };
  }

  /**
   * Admin: list libvirt's domains now and record what changed. An API-only process has no
   * libvirt: there the agents keep their hosts' instances in step, and this is a 409.
   */
  @Post('admin/instances/sync')
  @HttpCode(200)
  async sync(@AdminCaller() caller: RequestContext): Promise<SyncInstancesResult> {
    if (this.role !== null && !drivesHypervisor(this.role))
      throw new ConflictException(
        "This API server does not talk to libvirt: each host's agent syncs its instances (at start, on every libvirt lifecycle event, and every SNAPLEDGER_SYNC_INTERVAL seconds). Run `snapledger instances sync` on the host to sync it now.",
      );
    return this.commands.execute<SyncInstancesCommand, SyncInstancesResult>(
      new SyncInstancesCommand(caller),
    );
  }
}
