import { planBackupChain } from '../../domain/backup-chain.decider';
import {
  type BackupChainsState,
  newestOfSeries,
  SNAPSHOT_SERIES,
  type ChainMember,
  type ChainSeries,
} from '../../domain/backup-chain.state';
import { foldImage } from '../../domain/image.state';
import { SNAPSHOT_ALLOWED_VM_STATES } from '../../domain/instance.decider';
import type { DomainDetails } from '../../drivers/hypervisor.port';
import { imageStream } from '../../events';
import { loadBackupChains } from '../backup-chain-drivers';
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

/** What planChain decides from (see PlanStep.readChainFacts). */
interface ChainFacts {
  readonly chains: BackupChainsState | null;
  readonly usable: { ok: true } | { ok: false; why: string } | null;
  readonly checkpoints: readonly string[];
  readonly checkpointFault: string | null;
}

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
    // A backup asked to be incremental reads its chain and libvirt's checkpoints while
    // qemu-img reads the disk: each is a process or a read of its own. The format comes from
    // libvirt, and qemu-img is told it: probing would trust the guest.
    const series = this.seriesOf(state);
    const [info, chainFacts] = await Promise.all([
      this.deps.disks.info(domain.snapshotDisk.path, { shared: running, format: sourceFormat }),
      series
        ? this.readChainFacts(instanceId, domain.name, running && sourceFormat === 'qcow2', series)
        : null,
    ]);
    const base: SnapshotPlan = {
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
    if (!series || !chainFacts) return base;
    return this.planChain(base, domain, running, series, chainFacts);
  }

  /** The chain series a backup (or createImage) asked to be incremental belongs to. */
  private seriesOf(state: RequestedSnapshot): ChainSeries | null {
    const { image } = state;
    if (!image.incrementalRequested) return null;
    if (image.imageType === 'snapshot')
      return { imageType: 'snapshot', backupType: SNAPSHOT_SERIES };
    if (image.backupType === null) return null;
    return { imageType: 'backup', backupType: image.backupType };
  }

  /**
   * What the chain decision reads: the instance's chains, the series' newest image and
   * whether a layer can lie over it, and (a running qcow2 disk) libvirt's checkpoints and
   * whether the newest image's checkpoint still answers.
   */
  private async readChainFacts(
    instanceId: string,
    domainName: string,
    runningQcow2: boolean,
    series: ChainSeries,
  ): Promise<ChainFacts> {
    const drivers = this.deps.chains;
    const liveQcow2 = runningQcow2 && drivers !== null;
    const [chains, checkpoints] = await Promise.all([
      drivers ? loadBackupChains(drivers.log, instanceId).then((c) => c.state) : null,
      liveQcow2 ? drivers.jobs.checkpoints(domainName) : ([] as string[]),
    ]);
    const newest = chains ? newestOfSeries(chains, series) : null;
    const since = newest?.checkpoint ?? null;
    const [usable, checkpointFault] = await Promise.all([
      newest ? this.usable(newest) : null,
      liveQcow2 && since !== null && checkpoints.includes(since)
        ? drivers.jobs.pendingBytes(domainName, since).then(
            () => null,
            (error: unknown) => (error instanceof Error ? error.message : String(error)),
          )
        : null,
    ]);
    return { chains, usable, checkpoints, checkpointFault };
  }

  /**
   * A backup (or createImage) asked to be incremental: a layer over the series' newest chain
   * image, or a full image that starts a chain, or (store or disk cannot hold chains) the
   * plain plan.
   */
  private planChain(
    base: SnapshotPlan,
    domain: DomainDetails,
    running: boolean,
    series: ChainSeries,
    facts: ChainFacts,
  ): SnapshotPlan {
    const drivers = this.deps.chains;
    const { chains, usable, checkpoints, checkpointFault } = facts;
    const decided = planBackupChain({
      imageId: base.imageId,
      series,
      chains: chains ?? { members: new Map(), merging: new Map(), added: 0 },
      running,
      diskFormat: base.sourceFormat,
      storeKind: drivers ? 'local' : 'glance',
      newestUsable: () => usable ?? { ok: true },
      checkpoints,
      checkpointFault,
    });
    if ('chained' in decided) return { ...base, notIncremental: decided.reason };
    const { compression, compressionNotApplied, ...rest } = base;
    return {
      ...rest,
      mode: running ? 'live' : 'offline',
      targetFormat: 'qcow2',
      ...(compression
        ? { compressionNotApplied: 'a backup of a chain is a qcow2 layer, written uncompressed' }
        : compressionNotApplied
          ? { compressionNotApplied }
          : {}),
      ...(running ? { diskTarget: domain.snapshotDisk?.target ?? '' } : {}),
      chain: decided,
    };
  }

  /** Can a new layer lie over this chain image? It must be active, with its data stored. */
  private async usable(member: ChainMember): Promise<{ ok: true } | { ok: false; why: string }> {
    const drivers = this.deps.chains;
    if (!drivers) return { ok: true };
    const image = foldImage((await drivers.log.readStream(imageStream(member.imageId))) as never);
    if (image.status !== 'active') return { ok: false, why: `is ${String(image.status)}` };
    if (!(await drivers.store.isLayer(member.imageId))) {
      return {
        ok: false,
        why: 'has no data in the image store (was it removed outside snapledger?)',
      };
    }
    return { ok: true };
  }
}
