/**
 * The crash matrix: for one snapshot path (cold, live, offline) on one real domain, each
 * point starts `snapledger serve` with a kill point armed (SNAPLEDGER_FAULTS), takes a
 * snapshot, lets the service die by SIGKILL at that point, starts it again on the same data
 * directory, waits until the instance's task state is None, and checks every promise the
 * service makes after a crash. Points of a path run one after the other on the same domain
 * and data directory; each check is about that point's image.
 */
import { randomUUID } from 'node:crypto';
import { chmod, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { execa } from 'execa';
import { ServiceProcess, type StoredEventRow } from './service-process';
import { createTestDomain, runVirsh, type TestDomain } from './test-domain';

export type CrashPath = 'cold' | 'live' | 'offline';

export interface CrashPoint {
  /** As shown in the table, e.g. `after ImageExtracted`, `during convert`. */
  readonly name: string;
  /** SNAPLEDGER_FAULTS for the run that dies. */
  readonly faults: string;
  /** Extra environment for the run that dies (e.g. a convert rate limit, so it lasts ~2 s). */
  readonly env?: Readonly<Record<string, string>>;
  /**
   * The kill happens inside the createImage request, before the 202 (`true`), or may race
   * the answer (`'either'`: the saga's first step can be stored before the 202 is sent).
   */
  readonly inRequest?: boolean | 'either';
  /** A `kill-during:` point: it must fire while the driver call is in flight. */
  readonly midOperation?: boolean;
  /**
   * Part of the quick subset, which scripts/test.sh and CI run; SNAPLEDGER_CRASH_MATRIX=full
   * runs every point.
   */
  readonly quick?: boolean;
  /**
   * No kill point inside: the test SIGKILLs the service from outside, by PID, as soon as the
   * 202 arrives (the durability of an acknowledged createImage).
   */
  readonly killOnAnswer?: boolean;
}

export interface CrashRow {
  readonly point: string;
  readonly path: CrashPath;
  /** active, killed (with its failed step), or released (no image was reserved). */
  readonly outcome: string;
  /** From the restart (spawn) to task_state None in the API, ms. */
  readonly recoverMs: number;
  /** The last event stored before the kill. */
  readonly killedAfter: string;
  /** Every promise that did not hold; [] when the row passes. */
  readonly violations: readonly string[];
}

/**
 * The convert rate limit of mid-conversion points: qemu-img copies its first 2 MiB buffer at
 * once, so the domain's 4 MiB of data take about 2 s.
 */
const SLOW_CONVERT = { SNAPLEDGER_CONVERT_RATE_LIMIT: String(1024 * 1024) };
/** A block copy of the matrix's small disk at 1 MiB/s lasts seconds, so a kill lands inside it. */
const SLOW_MIRROR = { SNAPLEDGER_MIRROR_BANDWIDTH: '1' };

const pending = 'image_snapshot_pending';
const tsc = (to: string, quick = false): CrashPoint => ({
  name: `after TaskStateChanged→${to}`,
  faults: `after-append:TaskStateChanged:${to}`,
  quick,
});
const after = (type: string, quick = false, env?: Record<string, string>): CrashPoint => ({
  name: `after ${type}`,
  faults: `after-append:${type}`,
  quick,
  env,
});
const during = (operation: string, ms: number, quick: boolean, env?: Record<string, string>) => ({
  name: `during ${operation}`,
  faults: `kill-during:${operation}@${ms}`,
  midOperation: true,
  quick,
  env,
});
const commit = (point: 'settled' | 'renamed', quick = false): CrashPoint => ({
  name: `during commit (${point === 'settled' ? 'fsynced+hashed, before rename' : 'renamed, before dir fsync'})`,
  faults: `kill-at:commit-${point}`,
  quick,
});
const inRequest = (p: CrashPoint): CrashPoint => ({ ...p, inRequest: true });

/**
 * Every step boundary of each path, in the order the path reaches them: each event type it
 * appends (each task-state transition separately), and the driver calls it makes, killed in
 * flight. QuiesceSkipped is stored with DiskMirrored in one append, so they are one point.
 */
export const CRASH_POINTS: Readonly<Record<CrashPath, readonly CrashPoint[]>> = {
  cold: [
    inRequest(tsc(pending, true)),
    inRequest(after('ImageReserved')),
    { ...tsc('image_snapshot'), inRequest: 'either' },
    after('SnapshotPlanned', true),
    after('DomainSaveStarted', true),
    during('save', 400, true),
    after('DomainSaved', true),
    tsc('image_pending_upload'),
    after('ConversionProgressed', false, SLOW_CONVERT),
    during('convert', 700, true, SLOW_CONVERT),
    after('ImageExtracted', true),
    during('restore', 100, false),
    after('DomainRestored', true),
    tsc('image_uploading'),
    commit('settled'),
    commit('renamed', true),
    after('Uploaded', true),
    after('DowntimeObserved', true),
    tsc('none'),
  ],
  live: [
    inRequest(tsc(pending)),
    inRequest(after('ImageReserved')),
    { ...tsc('image_snapshot'), inRequest: 'either' },
    after('SnapshotPlanned'),
    tsc('image_pending_upload'),
    during('mirror', 500, true, SLOW_MIRROR),
    after('DiskMirrored', true),
    after('ConversionProgressed', false, SLOW_CONVERT),
    during('convert', 700, true, SLOW_CONVERT),
    after('ImageExtracted'),
    after('DeltaRemoved', true),
    tsc('image_uploading'),
    commit('settled', true),
    commit('renamed'),
    after('Uploaded'),
    after('DowntimeObserved'),
    tsc('none', true),
  ],
  offline: [
    {
      name: 'right after the 202 (SIGKILL from outside)',
      faults: '',
      killOnAnswer: true,
      quick: true,
    },
    inRequest(tsc(pending)),
    inRequest(after('ImageReserved', true)),
    { ...tsc('image_snapshot'), inRequest: 'either' },
    after('SnapshotPlanned'),
    tsc('image_pending_upload'),
    after('ConversionProgressed', false, SLOW_CONVERT),
    during('convert', 700, true, SLOW_CONVERT),
    after('ImageExtracted', true),
    tsc('image_uploading'),
    commit('settled'),
    commit('renamed', true),
    after('Uploaded'),
    tsc('none'),
  ],
};

/** The points to run: all of them by default, or the quick subset (SNAPLEDGER_CRASH_MATRIX=quick). */
export function selectedPoints(
  path: CrashPath,
  full: boolean,
  only?: RegExp,
): readonly CrashPoint[] {
  return CRASH_POINTS[path].filter(
    (p) => (full || p.quick === true) && (only === undefined || only.test(`${path} ${p.name}`)),
  );
}

/** Views compared with a rebuild from position 0. */
const VIEW_TABLES = [
  'instance_view',
  'image_view',
  'snapshot_history',
  'audit_log',
  'instance_action',
  'instance_action_event',
];

/** Events that may repeat within one snapshot (progress samples, recorded retries). */
/**
 * Types a snapshot may store more than once. DowntimeObserved is written at step boundaries
 * and before the release, by each worker that watched the domain (a restart adds one).
 */
const REPEATABLE = new Set([
  'ConversionProgressed',
  'SnapshotStepRetried',
  'TaskStateChanged',
  'DowntimeObserved',
]);

interface TaskStateData {
  imageId: string;
  instanceId: string;
  from: string | null;
  to: string | null;
  reason?: string;
}

/** Runs the points of one path on its own domain, service data directory and delta directory. */
export class CrashPathRunner {
  private service!: ServiceProcess;
  private domain!: TestDomain;
  private deltaParent!: string;
  private env!: Record<string, string>;

  constructor(
    readonly path: CrashPath,
    /** The service's data directory (e.g. on a small tmpfs); created if missing. */
    private readonly dataDir: string,
  ) {}

  get deltaDir(): string {
    return join(this.deltaParent, 'deltas');
  }

  async setup(): Promise<void> {
    await mkdir(this.dataDir, { recursive: true, mode: 0o700 });
    // A private delta directory under /var/tmp that QEMU's user can traverse.
    this.deltaParent = await mkdtemp(`/var/tmp/snapledger-crash-${this.path}-`);
    await chmod(this.deltaParent, 0o711);
    this.env = {
      SNAPLEDGER_DELTA_DIR: this.deltaDir,
      SNAPLEDGER_LIVE_SNAPSHOT: this.path === 'cold' ? 'off' : 'on',
    };
    // Tiny: 4 MiB of data, so a conversion at 1 MiB/s lasts ~2 s and images stay small.
    this.domain = await createTestDomain({
      name: `crash-${this.path}`,
      start: this.path !== 'offline',
      dataMiB: 4,
    });
    this.service = await ServiceProcess.create({ dataDir: this.dataDir });
  }

  async dispose(): Promise<void> {
    await this.service?.dispose().catch(() => undefined);
    await this.domain?.destroy().catch(() => undefined);
    if (this.deltaParent) await rm(this.deltaParent, { recursive: true, force: true });
  }

  /** The service's output, for diagnosing a failed row. */
  get logs(): string {
    return this.service.logs;
  }

  async run(point: CrashPoint): Promise<CrashRow> {
    const violations: string[] = [];
    const check = (ok: boolean, what: string) => {
      if (!ok) violations.push(what);
    };
    const priorState = await this.domain.state();
    const priorXml = await this.persistentXml();
    const positionBefore = this.lastPosition();

    // 1. The run that dies.
    const faults: Record<string, string> = point.faults ? { SNAPLEDGER_FAULTS: point.faults } : {};
    await this.service.start({ ...this.env, ...point.env, ...faults });
    const logsBefore = this.service.logs.length;
    const request = this.service
      .api<{ image_id: string }>('POST', `/v2.1/servers/${this.domain.uuid}/action`, {
        body: { createImage: { name: `crash ${this.path} ${point.name}` } },
        headers: { 'OpenStack-API-Version': 'compute 2.45' },
      })
      .then(
        (res) => ({ status: res.status, imageId: res.body?.image_id ?? null }),
        () => ({ status: 0, imageId: null }), // the service died inside the request
      );
    const answer = await request;
    if (point.inRequest === true)
      check(answer.status === 0, `the request was answered ${answer.status}`);
    else if (point.inRequest === 'either')
      check([0, 202].includes(answer.status), `createImage answered ${answer.status}`);
    else check(answer.status === 202, `createImage answered ${answer.status}, not 202`);
    if (point.killOnAnswer) await this.service.kill();
    else {
      const exit = await this.service.waitForExit(60_000).catch(async () => {
        await this.service.kill(); // the point was never reached: end this run by its PID
        return { code: null, signal: 'never reached' as const };
      });
      check(exit.signal === 'SIGKILL', `the service ended with ${exit.signal ?? exit.code}`);
    }
    const deathLog = this.service.logs.slice(logsBefore);
    if (point.midOperation) {
      check(
        /reached in flight/.test(deathLog),
        'the kill point did not fire while the operation was in flight',
      );
    }
    const atKill = this.eventsAfter(positionBefore);
    const killedAfter = atKill.at(-1)?.type ?? '(none)';
    const taken = atKill.find(
      (e) =>
        e.type === 'TaskStateChanged' &&
        (JSON.parse(e.data) as TaskStateData).instanceId === this.domain.uuid,
    );
    const imageId =
      answer.imageId ?? (taken ? (JSON.parse(taken.data) as TaskStateData).imageId : null);
    if (point.killOnAnswer && imageId !== null) {
      // Acknowledged means durable: both first events are in the log file the moment the 202 is out.
      const first = atKill.filter((e) => this.concerns(e, imageId));
      check(
        first.some((e) => e.type === 'ImageReserved'),
        'ImageReserved was not in the log at the 202',
      );
      check(
        first.some(
          (e) =>
            e.type === 'TaskStateChanged' && (JSON.parse(e.data) as TaskStateData).to === pending,
        ),
        'TaskStateChanged(→image_snapshot_pending) was not in the log at the 202',
      );
    }
    if (imageId === null) {
      violations.push('no task state was taken before the kill');
      return {
        point: point.name,
        path: this.path,
        outcome: '?',
        recoverMs: 0,
        killedAfter,
        violations,
      };
    }

    // 2. The restart, timed until the task state is None.
    const restartedAt = Date.now();
    await this.service.start(this.env);
    const recoverMs = await this.waitForTaskStateNone(restartedAt);
    check(recoverMs >= 0, 'the task state was not released within 90 s');

    // 3. The checks.
    const events = this.eventsAfter(positionBefore);
    const ofImage = events.filter((e) => this.concerns(e, imageId));
    const count = (type: string) => ofImage.filter((e) => e.type === type).length;
    const reserved = count('ImageReserved');
    let outcome: string;
    if (reserved === 0) {
      outcome = 'released (no image)';
      check(point.faults.endsWith(pending), 'the image was never reserved');
      const release = ofImage.filter((e) => e.type === 'TaskStateChanged').at(-1);
      check(
        /reservation was lost/.test(release?.data ?? ''),
        `released without the reason: ${release?.data}`,
      );
    } else {
      check(reserved === 1, `ImageReserved ×${reserved}`);
      const row = await this.service.waitForSnapshot(this.domain.uuid, imageId, 90_000);
      const image = await this.service.api<{ status: string }>('GET', `/v2/images/${imageId}`);
      outcome =
        row.result === 'killed'
          ? `killed at ${String(row.failed_step)}: ${String(row.failure_reason).slice(0, 160)}`
          : String(row.result);
      check(
        image.body.status === 'active' || image.body.status === 'killed',
        `image is ${image.body.status}`,
      );
      check(image.body.status === row.result, `image ${image.body.status}, history ${row.result}`);
      if (row.result === 'killed') {
        check(Boolean(row.failure_reason), 'a killed image has no reason');
        check(count('SnapshotFailed') === 1, `SnapshotFailed ×${count('SnapshotFailed')}`);
        check(count('Uploaded') === 0, 'a killed image was uploaded');
      } else {
        check(count('Uploaded') === 1, `Uploaded ×${count('Uploaded')}`);
        check(count('ImageExtracted') === 1, `ImageExtracted ×${count('ImageExtracted')}`);
        check(count('SnapshotFailed') === 0, 'an active image has SnapshotFailed');
      }
      check(
        count('DomainRestored') === count('DomainSaved'),
        `DomainSaved ×${count('DomainSaved')} but DomainRestored ×${count('DomainRestored')}`,
      );
      // The downtime is never under-reported: a saved domain's runs at least from the save's
      // first recorded start to its restore, whatever was killed in between.
      const saveStart = ofImage.find((e) => e.type === 'DomainSaveStarted');
      const restore = ofImage.filter((e) => e.type === 'DomainRestored').at(-1);
      if (saveStart && restore) {
        const from = Date.parse((JSON.parse(saveStart.data) as { startedAt: string }).startedAt);
        const to = Date.parse((JSON.parse(restore.metadata) as { occurredAt: string }).occurredAt);
        check(
          (row.downtime_ms ?? -1) >= to - from,
          `downtime ${String(row.downtime_ms)} ms < save start → restore ${to - from} ms`,
        );
      }
      // A planned snapshot's downtime is known by its end: observed, or 0 for a domain off.
      check(
        row.mode === null || row.downtime_ms !== null,
        `downtime unknown for a ${this.path} snapshot`,
      );
      if (this.path === 'offline')
        check(row.downtime_ms === 0, `offline downtime ${String(row.downtime_ms)}`);
      if (this.path === 'live' && count('DiskMirrored') > 0) {
        check(count('DeltaRemoved') === 1, `DeltaRemoved ×${count('DeltaRemoved')}`);
      }
      const files = (await readdir(join(this.dataDir, 'images'))).filter((f) => f !== '.staging');
      check(
        files.includes(imageId) === (row.result === 'active'),
        `stored file present: ${files.includes(imageId)} for a ${row.result} image`,
      );
    }
    for (const [type, n] of tally(ofImage)) {
      if (!REPEATABLE.has(type)) check(n === 1, `${type} ×${n}`);
    }
    // The task state: one chain None → … → None, each move once.
    const moves = ofImage
      .filter((e) => e.type === 'TaskStateChanged')
      .map((e) => JSON.parse(e.data) as TaskStateData);
    const chain = moves.map((m) => `${String(m.from)}→${String(m.to)}`).join(' ');
    check(moves.length >= 2, `only ${moves.length} task-state changes`);
    check(moves[0]?.from === null && moves.at(-1)?.to === null, `task states ${chain}`);
    check(
      moves.every((m, i) => i === 0 || m.from === moves[i - 1].to),
      `broken task-state chain ${chain}`,
    );
    check(
      new Set(moves.map((m) => m.to)).size === moves.length,
      `a task state was entered twice: ${chain}`,
    );
    const ids = this.service
      .events()
      .map((e) => (JSON.parse(e.metadata) as { eventId: string }).eventId);
    check(new Set(ids).size === ids.length, 'duplicate event ids in the log');

    const instance = await this.service.api<{ instance: { task_state: string | null } }>(
      'GET',
      `/v1/instances/${this.domain.uuid}`,
    );
    check(
      instance.body.instance.task_state === null,
      `task_state ${instance.body.instance.task_state}`,
    );
    const state = await this.domain.state();
    check(state === priorState, `domain ${state}, was ${priorState}`);
    check(!(await this.hasManagedSave()), 'a managed-save image was left');
    check((await this.persistentXml()) === priorXml, 'the persistent definition changed');
    const staging = await readdir(join(this.dataDir, 'images', '.staging')).catch(() => []);
    check(staging.length === 0, `left in staging: ${staging.join(', ')}`);
    const deltas = await readdir(this.deltaDir).catch(() => []);
    check(deltas.length === 0, `left in the delta dir: ${deltas.join(', ')}`);

    // 4. The views equal a rebuild from 0 (the service stops; the next point starts it).
    check(await this.viewsEqualRebuild(), 'the views differ from a rebuild');
    return { point: point.name, path: this.path, outcome, recoverMs, killedAfter, violations };
  }

  /** Polls the instance view; returns ms since `since` when task_state is None, -1 on timeout. */
  private async waitForTaskStateNone(since: number): Promise<number> {
    const deadline = Date.now() + 90_000;
    while (Date.now() < deadline) {
      const res = await this.service.api<{ instance?: { task_state: string | null } }>(
        'GET',
        `/v1/instances/${this.domain.uuid}`,
      );
      if (res.status === 200 && res.body.instance?.task_state === null) return Date.now() - since;
      await delay(50);
    }
    return -1;
  }

  private async viewsEqualRebuild(): Promise<boolean> {
    await this.service.stop();
    const dump = () =>
      JSON.stringify(
        VIEW_TABLES.map((t) => this.service.viewRows(`SELECT * FROM ${t} ORDER BY 1`)),
      );
    const live = dump();
    const rebuilt = await this.service.cli(['projections', 'rebuild']);
    return rebuilt.code === 0 && dump() === live;
  }

  private lastPosition(): number {
    try {
      return this.service.events().at(-1)?.position ?? 0;
    } catch {
      return 0; // no log yet
    }
  }

  private eventsAfter(position: number): StoredEventRow[] {
    return this.service.events().filter((e) => e.position > position);
  }

  /** An event of this image's snapshot: on its streams, or naming it. */
  private concerns(e: StoredEventRow, imageId: string): boolean {
    return (
      e.stream_name.endsWith(imageId) ||
      (JSON.parse(e.data) as { imageId?: string }).imageId === imageId
    );
  }

  private persistentXml(): Promise<string> {
    return runVirsh(this.domain.uri, [
      'dumpxml',
      '--domain',
      this.domain.uuid,
      '--inactive',
      '--security-info',
    ]);
  }

  private async hasManagedSave(): Promise<boolean> {
    const info = await runVirsh(this.domain.uri, ['dominfo', '--domain', this.domain.uuid]);
    return /^Managed save:\s+yes/im.test(info);
  }
}

function tally(events: readonly StoredEventRow[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const e of events) counts.set(e.type, (counts.get(e.type) ?? 0) + 1);
  return counts;
}

/** The matrix as a Markdown table. */
export function crashTable(rows: readonly CrashRow[], totalMs: number): string {
  const lines = [
    '| path | point | killed after | outcome | recovery (ms) | checks |',
    '| --- | --- | --- | --- | ---: | --- |',
    ...rows.map(
      (r) =>
        `| ${r.path} | ${r.point} | ${r.killedAfter} | ${r.outcome} | ${r.recoverMs} | ${
          r.violations.length === 0 ? 'all hold' : r.violations.join('; ')
        } |`,
    ),
    '',
    `${rows.length} points, ${rows.filter((r) => r.violations.length === 0).length} passed, total ${(totalMs / 1000).toFixed(1)} s`,
  ];
  return lines.join('\n');
}

/** A small tmpfs (root only) for a data directory; returns its mount point. */
export async function mountSmallTmpfs(sizeMiB: number): Promise<string> {
  const dir = join('/var/tmp', `snapledger-crash-tmpfs-${randomUUID().slice(0, 8)}`);
  await mkdir(dir, { mode: 0o700 });
  await execa('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0700`, 'tmpfs', dir], {
    timeout: 30_000,
  });
  return dir;
}

/** Unmounts the tmpfs made by mountSmallTmpfs, by its path, and removes the mount point. */
export async function unmountTmpfs(dir: string): Promise<void> {
  await execa('umount', [dir], { timeout: 30_000, reject: false });
  await rm(dir, { recursive: true, force: true });
}
