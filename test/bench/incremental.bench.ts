/**
 * Incremental backups against full ones (docs/benchmarks.md, "Incremental backup").
 *
 * One running domain with a 1 GiB disk holding 512 MiB of data, and a service whose backup
 * policy for it is incremental. Each round, in a rotation series of its own:
 * 1. a full backup (the series' first: libvirt's backup job copies the whole disk and makes
 *    a checkpoint), timed from the POST to the history's finished_at;
 * 2. 16 MiB written through the running QEMU (as a guest would, so the checkpoint's bitmap
 *    sees it);
 * 3. the incremental backup, timed the same way, with the bytes its layer holds and takes on
 *    disk (from the history: observed in the layer file) and the downtime libvirt showed.
 * A backup of a chain is active when its task state is released (finished_at); its whole
 * image is hashed after that (the history's `checksum` step). Each backup's hashing is
 * waited for before the next step of the round, so no two measurements overlap, and the
 * time to its checksums (requested_at → the checksum step's end) is reported as well.
 * Baselines, in the same round: the bare `qemu-img convert` of the same disk (-U, as it runs);
 * and libvirt alone doing the same pair of backups: `qemu-img create` of the target, `virsh
 * backup-begin` with a checkpoint (the second with `<incremental>` since the first), and
 * `virsh domjobinfo` until the job has ended, after 16 MiB written the same way. Its
 * checkpoints and files are removed after the round.
 * Every backup is deleted again after its round (newest first, so no merge runs).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { execa } from 'execa';
import { ServiceProcess } from '../support/service-process';
import { writeThroughQemu } from '../support/guest-disk';
import { createTestDomain, type TestDomain } from '../support/test-domain';
import { median } from './snapshot.bench';

export const INCREMENTAL_BENCH_DEFAULTS = {
  rounds: 5,
  diskMiB: 1024,
  dataMiB: 512,
  changedMiB: 16,
} as const;

export interface IncrementalBenchOptions {
  readonly rounds?: number;
  readonly signal?: AbortSignal;
  readonly log?: (line: string) => void;
}

export interface IncrementalRound {
  readonly fullMs: number;
  readonly incrementalMs: number;
  readonly bareConvertMs: number;
  /** libvirt alone: a full push-mode backup job with a checkpoint, and an incremental one. */
  readonly bareFullMs: number;
  readonly bareIncrementalMs: number;
  readonly fullBytesStored: number;
  readonly bytesCopied: number;
  readonly bytesStored: number;
  readonly downtimeMs: number;
  /** requested_at → the end of the checksum step (the whole image hashed), per backup. */
  readonly fullChecksummedMs: number;
  readonly incrementalChecksummedMs: number;
  /** The incremental's steps as its history timed them, ms by step name. */
  readonly incrementalSteps: Readonly<Record<string, number>>;
  readonly fullSteps: Readonly<Record<string, number>>;
}

export interface IncrementalBenchResult {
  readonly rounds: readonly IncrementalRound[];
  readonly diskMiB: number;
  readonly dataMiB: number;
  readonly changedMiB: number;
  readonly medianFullMs: number;
  readonly medianIncrementalMs: number;
  readonly medianFullChecksummedMs: number;
  readonly medianIncrementalChecksummedMs: number;
  readonly medianBareConvertMs: number;
  readonly medianBareFullMs: number;
  readonly medianBareIncrementalMs: number;
  /** libvirt alone: median bare incremental ÷ median bare full. */
  readonly bareWallRatio: number;
  /** Median incremental bytes stored ÷ bytes changed. */
  readonly storedPerChanged: number;
  /** Median incremental wall time ÷ median full backup wall time (to finished_at: active). */
  readonly wallRatio: number;
  /** The same, each to its checksums recorded. */
  readonly checksummedRatio: number;
  readonly maxDowntimeMs: number;
}

interface HistoryRow {
  image_id: string;
  result: string;
  requested_at: string;
  finished_at: string | null;
  downtime_ms: number | null;
  steps: { step: string; durationMs: number; finishedAt: string }[];
  backup: { kind: string; bytes_copied: number | null; bytes_stored: number | null } | null;
}

const MiB = 1024 * 1024;

export async function benchIncremental(
  options: IncrementalBenchOptions = {},
): Promise<IncrementalBenchResult> {
  const d = INCREMENTAL_BENCH_DEFAULTS;
  const rounds = options.rounds ?? d.rounds;
  const log = options.log ?? (() => undefined);
  let service: ServiceProcess | undefined;
  let domain: TestDomain | undefined;
  let scratch: string | undefined;
  try {
    scratch = await mkdtemp(join(tmpdir(), 'snapledger-bench-incremental-'));
    service = await ServiceProcess.create();
    await service.start();
    log(`creating a ${d.diskMiB} MiB disk with ${d.dataMiB} MiB of data`);
    domain = await createTestDomain({
      name: 'bench-incr',
      diskMiB: d.diskMiB,
      dataMiB: d.dataMiB,
      start: true,
    });
    await service.syncInstances();
    const policy = await service.api('PUT', `/v1/instances/${domain.uuid}/backup-policy`, {
      body: { incremental: true },
    });
    if (policy.status !== 200) throw new Error(`backup-policy answered ${policy.status}`);

    const results: IncrementalRound[] = [];
    for (let round = 1; round <= rounds; round += 1) {
      if (options.signal?.aborted) throw new Error('interrupted');
      const series = `bench-${round}`;
      const full = await backupOnce(service, domain, series);
      if (full.backup?.kind !== 'full') throw new Error(`round ${round}: the first was not full`);
      // 16 MiB written where the data lies, a different place each round.
      const offsetMiB = 64 + ((round * 37) % (d.dataMiB - 64 - d.changedMiB));
      await writeThroughQemu(domain, round, offsetMiB, d.changedMiB);
      const incremental = await backupOnce(service, domain, series);
      if (incremental.backup?.kind !== 'incremental') {
        throw new Error(`round ${round}: the second backup was ${incremental.backup?.kind}`);
      }
      const bare = join(scratch, 'bare.qcow2');
      const started = performance.now();
      await execa('qemu-img', [
        'convert',
        '-U',
        '-f',
        'qcow2',
        '-O',
        'qcow2',
        domain.diskPath,
        bare,
      ]);
      const bareConvertMs = performance.now() - started;
      await rm(bare, { force: true });
      const bareJobs = await bareBackupPair(domain, scratch, round, offsetMiB);
      const r: IncrementalRound = {
        fullMs: wallMs(full),
        incrementalMs: wallMs(incremental),
        fullChecksummedMs: checksummedMs(full),
        incrementalChecksummedMs: checksummedMs(incremental),
        bareConvertMs,
        bareFullMs: bareJobs.fullMs,
        bareIncrementalMs: bareJobs.incrementalMs,
        fullBytesStored: full.backup.bytes_stored ?? Number.NaN,
        bytesCopied: incremental.backup.bytes_copied ?? Number.NaN,
        bytesStored: incremental.backup.bytes_stored ?? Number.NaN,
        downtimeMs: incremental.downtime_ms ?? Number.NaN,
        incrementalSteps: stepTimes(incremental),
        fullSteps: stepTimes(full),
      };
      results.push(r);
      log(
        `round ${round}: full ${Math.round(r.fullMs)} ms (hashed at ${Math.round(r.fullChecksummedMs)} ms), ` +
          `incremental ${Math.round(r.incrementalMs)} ms (hashed at ${Math.round(r.incrementalChecksummedMs)} ms), ` +
          `${(r.bytesStored / MiB).toFixed(2)} MiB stored for ${d.changedMiB} MiB changed`,
      );
      // Newest first: nothing lies over an image when it goes, so no merge runs.
      for (const id of [incremental.image_id, full.image_id]) {
        const res = await service.api('DELETE', `/v2/images/${id}`);
        if (res.status !== 204) throw new Error(`DELETE ${id} answered ${res.status}`);
      }
    }
    const medianFullMs = median(results.map((r) => r.fullMs));
    const medianIncrementalMs = median(results.map((r) => r.incrementalMs));
    const medianBareFullMs = median(results.map((r) => r.bareFullMs));
    const medianBareIncrementalMs = median(results.map((r) => r.bareIncrementalMs));
    const medianFullChecksummedMs = median(results.map((r) => r.fullChecksummedMs));
    const medianIncrementalChecksummedMs = median(results.map((r) => r.incrementalChecksummedMs));
    return {
      rounds: results,
      diskMiB: d.diskMiB,
      dataMiB: d.dataMiB,
      changedMiB: d.changedMiB,
      medianFullMs,
      medianIncrementalMs,
      medianFullChecksummedMs,
      medianIncrementalChecksummedMs,
      medianBareConvertMs: median(results.map((r) => r.bareConvertMs)),
      medianBareFullMs,
      medianBareIncrementalMs,
      bareWallRatio: medianBareIncrementalMs / medianBareFullMs,
      storedPerChanged: median(results.map((r) => r.bytesStored / (d.changedMiB * MiB))),
      wallRatio: medianIncrementalMs / medianFullMs,
      checksummedRatio: medianIncrementalChecksummedMs / medianFullChecksummedMs,
      maxDowntimeMs: Math.max(...results.map((r) => r.downtimeMs)),
    };
  } finally {
    await service?.dispose();
    await domain?.destroy();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}

/**
 * libvirt alone, on the same running domain: a full backup job with a checkpoint, 16 MiB
 * written, then an incremental one since that checkpoint, each timed from `qemu-img create`
 * of its target to the job seen ended and its completed report read. The checkpoints are
 * deleted and the targets removed afterwards.
 */
async function bareBackupPair(
  domain: TestDomain,
  scratch: string,
  round: number,
  offsetMiB: number,
): Promise<{ fullMs: number; incrementalMs: number }> {
  const first = `bare-${round}-full`;
  const second = `bare-${round}-incremental`;
  const targets = [join(domain.workDir, `${first}.qcow2`), join(domain.workDir, `${second}.qcow2`)];
  try {
    const fullMs = await bareBackupJob(domain, scratch, targets[0]!, first, null);
    await writeThroughQemu(domain, 0x80 + round, offsetMiB, INCREMENTAL_BENCH_DEFAULTS.changedMiB);
    const incrementalMs = await bareBackupJob(domain, scratch, targets[1]!, second, first);
    return { fullMs, incrementalMs };
  } finally {
    for (const checkpoint of [second, first]) {
      await domain.virsh('checkpoint-delete', '--checkpointname', checkpoint).catch(() => '');
    }
    for (const target of targets) await rm(target, { force: true });
  }
}

async function bareBackupJob(
  domain: TestDomain,
  scratch: string,
  target: string,
  checkpoint: string,
  since: string | null,
): Promise<number> {
  const backupXml = join(scratch, 'bare-backup.xml');
  const checkpointXml = join(scratch, 'bare-checkpoint.xml');
  await writeFile(
    backupXml,
    `<domainbackup mode='push'>${since === null ? '' : `<incremental>${since}</incremental>`}` +
      `<disks><disk name='vda' type='file'><target file='${target}'/><driver type='qcow2'/></disk></disks></domainbackup>`,
  );
  await writeFile(
    checkpointXml,
    `<domaincheckpoint><name>${checkpoint}</name><disks><disk name='vda' checkpoint='bitmap'/></disks></domaincheckpoint>`,
  );
  const started = performance.now();
  await execa('qemu-img', ['create', '-q', '-f', 'qcow2', target, `${domain.diskMiB}M`]);
  await domain.virsh(
    'backup-begin',
    '--backupxml',
    backupXml,
    '--checkpointxml',
    checkpointXml,
    '--reuse-external',
  );
  while (!/job type:\s+none/i.test(await domain.virsh('domjobinfo'))) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  const report = await domain.virsh('domjobinfo', '--completed');
  const elapsed = performance.now() - started;
  if (!/job type:\s+completed/i.test(report)) throw new Error(`bare backup job: ${report}`);
  return elapsed;
}

async function backupOnce(
  service: ServiceProcess,
  domain: TestDomain,
  series: string,
): Promise<HistoryRow> {
  const res = await service.api<{ image_id: string }>(
    'POST',
    `/v2.1/servers/${domain.uuid}/action`,
    {
      body: { createBackup: { name: series, backup_type: series, rotation: 5 } },
      headers: { 'OpenStack-API-Version': 'compute 2.45' },
    },
  );
  if (res.status !== 202) throw new Error(`createBackup answered ${res.status}`);
  const row = (await service.waitForSnapshot(
    domain.uuid,
    res.body.image_id,
    600_000,
  )) as unknown as HistoryRow;
  if (row.result !== 'active') throw new Error(`backup ${row.image_id} ended ${row.result}`);
  return waitForChecksumStep(service, domain, row.image_id);
}

/** The backup's history row once its checksum step (after finished_at) is recorded. */
async function waitForChecksumStep(
  service: ServiceProcess,
  domain: TestDomain,
  imageId: string,
): Promise<HistoryRow> {
  const deadline = Date.now() + 600_000;
  for (;;) {
    const res = await service.api<{ snapshots: HistoryRow[] }>(
      'GET',
      `/v1/instances/${domain.uuid}/snapshots`,
    );
    const row = res.body.snapshots.find((s) => s.image_id === imageId);
    if (row?.steps.some((s) => s.step === 'checksum')) return row;
    if (Date.now() > deadline) throw new Error(`backup ${imageId} was not hashed in 600 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** requested_at → the end of the checksum step, both stamped by the service. */
function checksummedMs(row: HistoryRow): number {
  const step = row.steps.find((s) => s.step === 'checksum');
  if (!step) throw new Error(`backup ${row.image_id} has no checksum step`);
  return Date.parse(step.finishedAt) - Date.parse(row.requested_at);
}

function stepTimes(row: HistoryRow): Record<string, number> {
  const times: Record<string, number> = {};
  for (const s of row.steps) times[s.step] = (times[s.step] ?? 0) + s.durationMs;
  return times;
}

/** The POST (the history's requested_at) to finished_at, both stamped by the service. */
function wallMs(row: HistoryRow): number {
  if (!row.finished_at) throw new Error(`backup ${row.image_id} has no finished_at`);
  return Date.parse(row.finished_at) - Date.parse(row.requested_at);
}
