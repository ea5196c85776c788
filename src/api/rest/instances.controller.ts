import { Controller, Get, HttpCode, Inject, NotFoundException, Param, Post } from '@nestjs/common';
import { CommandBus } from '@nestjs/cqrs';
import type { RequestContext } from '../../commands/request-context';
import {
  SyncInstancesCommand,
  type SyncInstancesResult,
} from '../../commands/sync-instances.command';
import type { InstanceView } from '../../projections/entities/instance-view.entity';
import type { SnapshotHistory } from '../../projections/entities/snapshot-history.entity';
import { AdminCaller, Caller } from '../auth/request-context.decorator';
import { ReadModels } from '../read-models.service';
import { PROJECTION_RUNNER, type ReadYourWrites } from '../read-your-writes';

const instanceShape = (i: InstanceView) => ({
  id: i.id,
  name: i.name,
  project_id: i.projectId,
  user_id: i.userId,
  vm_state: i.vmState,
  power_state: i.powerState,
  task_state: i.taskState,
  disk_path: i.diskPath,
  disk_format: i.diskFormat,
  vcpus: i.vcpus,
  memory_mib: i.memoryMiB,
  host: i.host,
  created_at: i.createdAt,
  updated_at: i.updatedAt,
});

const snapshotShape = (s: SnapshotHistory) => ({
  image_id: s.imageId,
  image_name: s.imageName,
  image_type: s.imageType,
  instance_id: s.instanceId,
  project_id: s.projectId,
  user_id: s.userId,
  request_id: s.requestId,
  mode: s.mode,
  result: s.result,
  task_state: s.taskState,
  progress: s.progress,
  failed_step: s.failedStep,
  failure_reason: s.failureReason,
  steps: s.steps,
  downtime_ms: s.downtimeMs,
  retries: s.retries,
  requested_at: s.requestedAt,
  finished_at: s.finishedAt,
  duration_ms: s.durationMs,
});

/** snapledger's native routes about instances and their snapshot history. */
@Controller('v1')
export class InstancesController {
  constructor(
    private readonly views: ReadModels,
    private readonly commands: CommandBus,
    @Inject(PROJECTION_RUNNER) private readonly runner: ReadYourWrites,
  ) {}

  @Get('instances')
  async list(@Caller() caller: RequestContext) {
    return { instances: (await this.views.instances(caller.actor)).map(instanceShape) };
  }

  @Get('instances/:id')
  async show(@Param('id') id: string, @Caller() caller: RequestContext) {
    const instance = await this.views.instance(caller.actor, id);
    if (!instance) throw new NotFoundException(`Instance ${id} could not be found.`);
    return { instance: instanceShape(instance) };
  }

  @Get('instances/:id/snapshots')
  async snapshots(@Param('id') id: string, @Caller() caller: RequestContext) {
    const history = await this.views.snapshotHistory(caller.actor, id);
    if (!history) throw new NotFoundException(`Instance ${id} could not be found.`);
    return { snapshots: history.map(snapshotShape) };
  }

  /** Admin: list libvirt's domains now and record what changed. */
  @Post('admin/instances/sync')
  @HttpCode(200)
  async sync(@AdminCaller() caller: RequestContext): Promise<SyncInstancesResult> {
    const result = await this.commands.execute<SyncInstancesCommand, SyncInstancesResult>(
      new SyncInstancesCommand(caller),
    );
    await this.runner.waitFor(result.position);
    return result;
  }
}
