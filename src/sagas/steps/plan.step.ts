import { SNAPSHOT_ALLOWED_VM_STATES } from '../../domain/instance.decider';
import { novaStateOf } from '../../domain/nova-state.mapping';
import { PermanentStepError } from '../permanent-step.error';
import type { SnapshotPlan, RequestedSnapshot } from '../../domain/snapshot-process.state';
import type { SnapshotStepDependencies } from '../snapshot-step.dependencies';
import { planTargetFormat } from '../../domain/target-format';
import type { RequestStep } from './snapshot-step.handler';
import { appendToSnapshot } from './step-appends';

/**
 * Disk formats the live path mirrors: local files and block devices (an LVM volume is a raw
 * block device to libvirt); network disks never get here.
 */
const LIVE_FORMATS: readonly string[] = ['qcow2', 'raw'];

/** Reads the domain and its disk from libvirt and qemu-img, and picks the path and format. */
export class PlanStep implements RequestStep<'plan'> {
  readonly action = 'plan';
  readonly needs = 'request';

  constructor(private readonly deps: SnapshotStepDependencies) {}

  async run(state: RequestedSnapshot): Promise<void> {
    const plan = await this.plan(state);
    await appendToSnapshot(this.deps.appender, state, [{ type: 'SnapshotPlanned', data: plan }]);
  }

  private async plan(state: RequestedSnapshot): Promise<SnapshotPlan> {
    const { instanceId } = state;
    const domain = await this.deps.hypervisor.describe(instanceId);
    if (!domain.snapshotDisk)
      throw new PermanentStepError(`domain ${domain.name} has no file or block disk`);
    const sourceFormat = domain.snapshotDisk.format;
    if (!sourceFormat) {
      throw new PermanentStepError(
        `the disk of domain ${domain.name} declares no format (<driver type=...>)`,
      );
    }
    const { vmState, powerState } = novaStateOf(domain.state, domain.hasManagedSave);
    // The state seen now, not the view's: the same states createImage accepts. A guest that
    // suspended itself to RAM still has a live QEMU holding the disk.
    if (!SNAPSHOT_ALLOWED_VM_STATES.includes(vmState) || domain.state === 'pmsuspended') {
      throw new PermanentStepError(`domain ${domain.name} is ${domain.state}; cannot snapshot it`);
    }
    const running = powerState === 'running' || powerState === 'paused';
    // Live, as Nova decides it: a running or paused QEMU domain on a local qcow2/raw file,
    // unless the operator forced the cold path.
    const live =
      running &&
      this.deps.config.liveSnapshot &&
      LIVE_FORMATS.includes(sourceFormat) &&
      domain.snapshotDisk.target !== '';
    // The format comes from libvirt, and qemu-img is told it: probing would trust the guest.
    const info = await this.deps.disks.info(domain.snapshotDisk.path, {
      shared: running,
      format: sourceFormat,
    });
    return {
      imageId: state.imageId,
      instanceId,
      mode: live ? 'live' : running ? 'cold' : 'offline',
      priorPowerState: powerState,
      priorVmState: vmState,
      domainName: domain.name,
      diskPath: domain.snapshotDisk.path,
      diskKind: domain.snapshotDisk.kind,
      sourceFormat,
      ...planTargetFormat(sourceFormat, this.deps.config),
      virtualSize: info.virtualSize,
      ...(live ? { diskTarget: domain.snapshotDisk.target } : {}),
    };
  }
}
