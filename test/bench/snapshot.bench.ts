/**
 * Cold-snapshot benchmark: snapledger's createImage against the bare command sequence.
 *
 * One running test domain (default: 1 GiB qcow2 disk, 256 MiB of data) is snapshotted in
 * alternating rounds:
 * - snapledger: `POST /v2.1/servers/<uuid>/action {"createImage": ...}` to a snapledger
 *   service started as a child process (`node bin/snapledger serve`, own port, own temp data
 *   dir), until the snapshot history says result 'active' and task_state null;
 * - bare: exactly `virsh managedsave`, `qemu-img convert -p -f qcow2 -O qcow2`, `virsh start`
 *   on the same domain, timed together.
 * snapledger also hashes the image (md5 + sha512), fsyncs and renames it into its store and
 * records every step as events; the bare sequence does none of that. Its cost is reported,
 * not hidden: the per-step breakdown shows where the extra time goes.
 *
 * Everything runs through execa with argument arrays. Prints nothing; the caller reports.
 */
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import {
  createTestDomain,
  runVirsh,
  TEST_LIBVIRT_URI,
  type TestDomain,
} from '../support/test-domain';

export interface ColdSnapshotBenchOptions {
  /** Virtual size of the test domain's qcow2 disk. Default 1024 (1 GiB). */
  readonly diskMiB?: number;
  /** MiB of (incompressible) data at the start of the disk. Default 256. */
  readonly dataMiB?: number;
  /** Measured rounds; each round runs both sides, alternating which goes first. Default 5. */
  readonly rounds?: number;
  /**
   * Rounds of both sides before the measured ones, reported apart and left out of the medians.
   * Default 2: the first managedsave after the domain boots was often among the slowest, and
   * the first snapshots also warm the service's code paths (see docs/benchmarks.md).
   */
  readonly warmupRounds?: number;
  /** Port of the benchmark's own snapledger service. Default 18901. */
  readonly port?: number;
  /** libvirt URI. Default SNAPLEDGER_TEST_LIBVIRT_URI or qemu:///system. */
  readonly uri?: string;
  /** Aborts the benchmark between steps (everything is still cleaned up). */
  readonly signal?: AbortSignal;
  /** Progress lines (default: none). */
  readonly log?: (line: string) => void;
}

/** The step names of the snapshot history, in the order the saga performs them. */
export const SNAPSHOT_STEPS = ['begin', 'plan', 'save', 'extract', 'restore', 'upload'] as const;
export type SnapshotStepName = (typeof SNAPSHOT_STEPS)[number];

/**
 * Where snapledger's end-to-end time goes. `api` is POST sent → ImageReserved (requested_at);
 * each step's `segmentMs` is the wall time from the previous step's end (or requested_at) to
 * this step's end, so it includes the saga's bookkeeping before the step; `finish` is the
 * upload's end → finished_at (releasing the task state). api + Σ segments + finish = total.
 */
export interface SnapledgerStepTimes {
  readonly apiMs: number;
  readonly steps: Readonly<Record<SnapshotStepName, { durationMs: number; segmentMs: number }>>;
  readonly finishMs: number;
}

export interface SnapledgerRound {
  readonly imageId: string;
  /** POST sent → finished_at of the history (same host clock): the exact end-to-end time. */
  readonly totalMs: number;
  /** The history's duration_ms: requested_at (ImageReserved) → finished_at. */
  readonly historyMs: number;
  /** POST sent → the poll (every 100 ms) that first saw the snapshot complete. */
  readonly polledMs: number;
  /** POST sent → its 202 answer. */
  readonly postMs: number;
  /** The history's downtime_ms: DomainSaved startedAt → DomainRestored. */
  readonly downtimeMs: number;
  readonly times: SnapledgerStepTimes;
  readonly imageBytes: number;
}

export interface BareRound {
  /** managedsave + convert + start, back to back. */
  readonly totalMs: number;
  readonly managedsaveMs: number;
  readonly convertMs: number;
  readonly startMs: number;
  /** managedsave started → start finished (the whole sequence: the domain is down throughout). */
  readonly downtimeMs: number;
  readonly imageBytes: number;
}

export interface ColdSnapshotRound {
  /** 1..rounds for measured rounds; -warmupRounds..-1 for warm-up rounds. */
  readonly round: number;
  readonly first: 'snapledger' | 'bare';
  readonly snapledger: SnapledgerRound;
  readonly bare: BareRound;
}

export interface ColdSnapshotBenchResult {
  readonly diskMiB: number;
  readonly dataMiB: number;
  readonly rounds: number;
  readonly warmupRounds: number;
  /** The test domain's libvirt type: 'kvm', or 'qemu' (TCG). */
  readonly virtType: 'kvm' | 'qemu';
  readonly perRound: readonly ColdSnapshotRound[];
  /** The warm-up rounds, measured the same way but not part of any median. */
  readonly warmups: readonly ColdSnapshotRound[];
  readonly median: {
    readonly snapledgerMs: number;
    readonly snapledgerHistoryMs: number;
    readonly snapledgerPolledMs: number;
    readonly snapledgerPostMs: number;
    readonly bareMs: number;
    readonly snapledgerDowntimeMs: number;
    readonly bareDowntimeMs: number;
    readonly snapledgerImageBytes: number;
    readonly bareImageBytes: number;
    /** Per-part medians of the snapledger breakdown. */
    readonly snapledgerTimes: SnapledgerStepTimes;
    readonly bareSteps: { managedsaveMs: number; convertMs: number; startMs: number };
  };
  /** median(snapledger POST → finished_at) / median(bare sequence). */
  readonly ratio: number;
  /** median(history duration_ms) / median(bare sequence): without the API's part. */
  readonly historyRatio: number;
  /** median(snapledger downtime_ms) / median(bare managedsave → start finished). */
  readonly downtimeRatio: number;
  /**
   * Median over rounds of (snapledger total − its save step + that round's bare managedsave) /
   * that round's bare total. managedsave is the same libvirt job on both sides and its duration
   * comes in steps of ~200 ms (1.25, 1.45, 1.65 s...), which makes `ratio` swing from run to run;
   * this paired ratio leaves that noise out and keeps all of snapledger's own overhead except
   * the state check inside its save step (~15 ms).
   */
  readonly saveEqualizedRatio: number;
}

/** The defaults of benchColdSnapshot's options. */
export const SNAPSHOT_BENCH_DEFAULTS = {
  diskMiB: 1024,
  dataMiB: 256,
  rounds: 5,
  warmupRounds: 2,
  port: 18901,
} as const;

const POLL_INTERVAL_MS = 100;
const SERVICE_READY_TIMEOUT_MS = 90_000;
const SNAPSHOT_TIMEOUT_MS = 10 * 60_000;
const COMMAND_TIMEOUT_MS = 10 * 60_000;
const SERVICE_STOP_GRACE_MS = 20_000;
/** Pause between two measurements, after their outputs are deleted. */
const SETTLE_MS = 1_000;
const LOG_TAIL_BYTES = 8_000;

interface SnapshotHistoryRow {
  readonly image_id: string;
  readonly result: 'running' | 'active' | 'killed';
  readonly task_state: string | null;
  readonly mode: string | null;
  readonly failed_step: string | null;
  readonly failure_reason: string | null;
  readonly downtime_ms: number | null;
  readonly steps: readonly {
    step: string;
    startedAt: string;
    finishedAt: string;
    durationMs: number;
  }[];
  readonly requested_at: string;
  readonly finished_at: string | null;
  readonly duration_ms: number | null;
}

/** The snapledger service, started as a child process with its own data dir and port. */
export interface Service {
  readonly baseUrl: string;
  readonly dataDir: string;
  readonly logPath: string;
  readonly subprocess: ResultPromise;
  token: string;
}

export async function benchColdSnapshot(
  options: ColdSnapshotBenchOptions = {},
): Promise<ColdSnapshotBenchResult> {
  const defaults = SNAPSHOT_BENCH_DEFAULTS;
  const diskMiB = options.diskMiB ?? defaults.diskMiB;
  const dataMiB = options.dataMiB ?? defaults.dataMiB;
  const rounds = options.rounds ?? defaults.rounds;
  const warmupRounds = options.warmupRounds ?? defaults.warmupRounds;
  const port = options.port ?? defaults.port;
  const uri = options.uri ?? TEST_LIBVIRT_URI;
  const { signal } = options;
  const log = options.log ?? (() => undefined);
  if (!Number.isSafeInteger(rounds) || rounds < 1) throw new RangeError('rounds must be >= 1');
  if (!Number.isSafeInteger(warmupRounds) || warmupRounds < 0)
    throw new RangeError('warmupRounds must be >= 0');
  if (!Number.isSafeInteger(port) || port < 1 || port > 65_535)
    throw new RangeError('port must be 1..65535');
  signal?.throwIfAborted();
  // Before anything is created: another service there would answer in our place.
  if (await portAnswers(port)) {
    throw new Error(`port ${port} is already in use: pick another one (port option)`);
  }

  const root = repoRoot();
  const tempDir = await mkdtemp(join(tmpdir(), 'snapledger-bench-'));
  const dataDir = join(tempDir, 'data');
  const bareDir = join(tempDir, 'bare');
  const serviceLog = join(tempDir, 'service.log');
  let domain: TestDomain | undefined;
  let service: Service | undefined;
  let result: ColdSnapshotBenchResult | undefined;
  let failure: { error: unknown } | undefined;
  try {
    await mkdir(bareDir, { mode: 0o700 });
    log(`creating a running test domain (${diskMiB} MiB qcow2, ${dataMiB} MiB of data)`);
    domain = await createTestDomain({ name: 'bench', diskMiB, dataMiB, start: true, uri });
    signal?.throwIfAborted();

    log(`starting snapledger on 127.0.0.1:${port} (data dir ${dataDir})`);
    // This benchmark compares the cold path with the bare cold sequence: the live path
    // (the default for a running domain) is measured by live-downtime.bench.ts.
    service = await startService({
      root,
      dataDir,
      port,
      uri,
      logPath: serviceLog,
      env: { SNAPLEDGER_LIVE_SNAPSHOT: 'off' },
    });
    await waitForInstance(service, domain.uuid);
    log('snapledger is ready and knows the domain');
    signal?.throwIfAborted();

    const measured: ColdSnapshotRound[] = [];
    const warmups: ColdSnapshotRound[] = [];
    for (let round = -warmupRounds; round < rounds; round++) {
      const warmup = round < 0;
      const label = warmup
        ? `warm-up ${round + warmupRounds + 1}/${warmupRounds}`
        : `round ${round + 1}/${rounds}`;
      // Measured rounds alternate which side goes first, starting with snapledger.
      const first = ((round % 2) + 2) % 2 === 0 ? 'snapledger' : 'bare';
      let sl: SnapledgerRound | undefined;
      let bare: BareRound | undefined;
      for (const side of first === 'snapledger' ? ['snapledger', 'bare'] : ['bare', 'snapledger']) {
        signal?.throwIfAborted();
        await expectRunning(domain);
        if (side === 'snapledger') sl = await snapledgerRound(service, domain.uuid, label, signal);
        else bare = await bareRound(domain, join(bareDir, 'bare.qcow2'), signal);
        await delay(SETTLE_MS, undefined, { signal });
      }
      const done = { snapledger: sl as SnapledgerRound, bare: bare as BareRound };
      log(
        `${label} (${first} first): ` +
          `snapledger ${done.snapledger.totalMs} ms (downtime ${done.snapledger.downtimeMs} ms), ` +
          `bare ${done.bare.totalMs} ms`,
      );
      if (warmup) warmups.push({ round, first, ...done });
      else measured.push({ round: round + 1, first, ...done });
    }
    await expectRunning(domain);
    result = summarize({ diskMiB, dataMiB, rounds, warmupRounds, domain, measured, warmups });
  } catch (error) {
    failure = { error };
    const tail = await logTail(serviceLog);
    if (tail) log(`snapledger service log (tail):\n${tail}`);
  }

  // Cleanup: every step runs even when an earlier one fails.
  const cleanupErrors: string[] = [];
  const attempt = async (what: string, work: () => Promise<unknown>) => {
    try {
      await work();
    } catch (error) {
      cleanupErrors.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  if (service) await attempt('stopping the service', () => stopService(service as Service));
  if (domain) await attempt('removing the domain', () => (domain as TestDomain).destroy());
  await attempt('removing the temp dir', () => rm(tempDir, { recursive: true, force: true }));
  if (cleanupErrors.length === 0) log('cleaned up: service stopped, domain and temp dir removed');
  else log(`CLEANUP FAILED: ${cleanupErrors.join('; ')}`);

  if (failure) throw failure.error;
  if (cleanupErrors.length > 0) throw new Error(`cleanup failed: ${cleanupErrors.join('; ')}`);
  return result as ColdSnapshotBenchResult;
}

/** The repository root: the nearest ancestor with bin/snapledger (works from src and dist). */
export function repoRoot(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'bin', 'snapledger')) && existsSync(join(dir, 'package.json')))
      return dir;
    if (dirname(dir) === dir) throw new Error(`no bin/snapledger above ${__dirname}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The two sides

/** POST createImage, then poll the history every 100 ms until the snapshot is complete. */
async function snapledgerRound(
  service: Service,
  instanceId: string,
  label: string,
  signal: AbortSignal | undefined,
): Promise<SnapledgerRound> {
  const postAt = Date.now();
  const started = performance.now();
  const response = await fetch(`${service.baseUrl}/v2.1/servers/${instanceId}/action`, {
    method: 'POST',
    headers: {
      'X-Auth-Token': service.token,
      'Content-Type': 'application/json',
      'OpenStack-API-Version': 'compute 2.45',
    },
    body: JSON.stringify({
      createImage: { name: `snapledger-bench-${label.replace(/[^a-z0-9]+/gi, '-')}` },
    }),
  });
  const answer = await response.text();
  const postMs = performance.now() - started;
  if (response.status !== 202)
    throw new Error(`createImage answered ${response.status}: ${answer.slice(0, 500)}`);
  const imageId = (JSON.parse(answer) as { image_id?: unknown }).image_id;
  if (typeof imageId !== 'string') throw new Error(`createImage answered no image_id: ${answer}`);

  let row: SnapshotHistoryRow;
  for (;;) {
    await delay(POLL_INTERVAL_MS, undefined, { signal });
    const found = (
      await getJson<{ snapshots: SnapshotHistoryRow[] }>(
        service,
        `/v1/instances/${instanceId}/snapshots`,
      )
    ).snapshots.find((s) => s.image_id === imageId);
    // Any end but 'active' is a failed snapshot: the benchmark stops there.
    if (found !== undefined && found.result !== 'running' && found.result !== 'active') {
      throw new Error(
        `snapshot ${imageId} ended ${String(found.result)} at ${found.failed_step ?? '?'}: ` +
          `${found.failure_reason ?? '?'}`,
      );
    }
    if (found?.result === 'active' && found.task_state === null) {
      row = found;
      break;
    }
    if (performance.now() - started > SNAPSHOT_TIMEOUT_MS) {
      throw new Error(`snapshot ${imageId} not complete after ${SNAPSHOT_TIMEOUT_MS} ms`);
    }
  }
  const polledMs = performance.now() - started;
  if (row.finished_at === null || row.duration_ms === null || row.downtime_ms === null) {
    throw new Error(`snapshot ${imageId} is complete but its history lacks times`);
  }
  if (row.mode !== 'cold') throw new Error(`snapshot ${imageId} ran as ${row.mode}, not cold`);

  // Delete the round's output; nothing else of the service's data dir is touched.
  const imagePath = join(service.dataDir, 'images', imageId.toLowerCase());
  const imageBytes = (await stat(imagePath)).size;
  await rm(imagePath, { force: true });
  const staging = join(service.dataDir, 'images', '.staging');
  const leftovers = (await readdir(staging).catch(() => [])).filter((f) => f.startsWith(imageId));
  if (leftovers.length > 0) throw new Error(`staging files left behind: ${leftovers.join(', ')}`);

  return {
    imageId,
    totalMs: Date.parse(row.finished_at) - postAt,
    historyMs: row.duration_ms,
    polledMs: Math.round(polledMs),
    postMs: Math.round(postMs),
    downtimeMs: row.downtime_ms,
    times: stepTimes(row, postAt),
    imageBytes,
  };
}

/** Splits POST sent → finished_at into the API part, each step's wall segment and the finish. */
function stepTimes(row: SnapshotHistoryRow, postAt: number): SnapledgerStepTimes {
  const requestedAt = Date.parse(row.requested_at);
  const steps = Object.fromEntries(
    SNAPSHOT_STEPS.map((s) => [s, { durationMs: 0, segmentMs: 0 }]),
  ) as Record<SnapshotStepName, { durationMs: number; segmentMs: number }>;
  let previousEnd = requestedAt;
  for (const step of row.steps) {
    if (!(SNAPSHOT_STEPS as readonly string[]).includes(step.step)) continue;
    const end = Date.parse(step.finishedAt);
    const entry = steps[step.step as SnapshotStepName];
    entry.durationMs += step.durationMs;
    entry.segmentMs += end - previousEnd;
    previousEnd = end;
  }
  return {
    apiMs: requestedAt - postAt,
    steps,
    finishMs: Date.parse(row.finished_at as string) - previousEnd,
  };
}

/** Exactly the three commands, back to back, on the same domain. */
async function bareRound(
  domain: TestDomain,
  outPath: string,
  signal: AbortSignal | undefined,
): Promise<BareRound> {
  await rm(outPath, { force: true });
  const t0 = performance.now();
  await runVirsh(domain.uri, ['managedsave', '--domain', domain.uuid], COMMAND_TIMEOUT_MS);
  const t1 = performance.now();
  await execa(
    'qemu-img',
    [
      'convert',
      '-p',
      '-f',
      domain.diskFormat,
      '-O',
      domain.diskFormat,
      '--',
      domain.diskPath,
      outPath,
    ],
    { timeout: COMMAND_TIMEOUT_MS, stdin: 'ignore', stdout: 'ignore', cancelSignal: signal },
  );
  const t2 = performance.now();
  await runVirsh(domain.uri, ['start', '--domain', domain.uuid], COMMAND_TIMEOUT_MS);
  const t3 = performance.now();
  const imageBytes = (await stat(outPath)).size;
  await rm(outPath, { force: true });
  return {
    totalMs: Math.round(t3 - t0),
    managedsaveMs: Math.round(t1 - t0),
    convertMs: Math.round(t2 - t1),
    startMs: Math.round(t3 - t2),
    downtimeMs: Math.round(t3 - t0),
    imageBytes,
  };
}

async function expectRunning(domain: TestDomain): Promise<void> {
  const state = await domain.state();
  if (state !== 'running') throw new Error(`domain ${domain.name} is '${state}', not running`);
}

// ---------------------------------------------------------------------------------------------
// The service

export async function startService(spec: {
  root: string;
  dataDir: string;
  port: number;
  uri: string;
  logPath: string;
  /** More SNAPLEDGER_* settings, e.g. SNAPLEDGER_LIVE_SNAPSHOT (live-downtime.bench.ts). */
  env?: Record<string, string>;
}): Promise<Service> {
  // Only our settings: no SNAPLEDGER_* of the caller's environment (faults, no-auth, format...).
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !key.startsWith('SNAPLEDGER_')) env[key] = value;
  }
  Object.assign(env, {
    SNAPLEDGER_DATA_DIR: spec.dataDir,
    SNAPLEDGER_PORT: String(spec.port),
    SNAPLEDGER_HOST: '127.0.0.1',
    SNAPLEDGER_LIBVIRT_URI: spec.uri,
    ...spec.env,
  });
  const subprocess = execa(process.execPath, [join(spec.root, 'bin', 'snapledger'), 'serve'], {
    cwd: spec.root,
    env,
    extendEnv: false,
    stdin: 'ignore',
    stdout: { file: spec.logPath, append: true },
    stderr: { file: spec.logPath, append: true },
    reject: false,
    // We stop it ourselves (SIGTERM, then SIGKILL); execa only kills it if we exit first.
    forceKillAfterDelay: false,
    cleanup: true,
  });
  const service: Service = {
    baseUrl: `http://127.0.0.1:${spec.port}`,
    dataDir: spec.dataDir,
    logPath: spec.logPath,
    subprocess,
    token: '',
  };
  try {
    const deadline = performance.now() + SERVICE_READY_TIMEOUT_MS;
    for (;;) {
      if (subprocess.exitCode !== null || subprocess.signalCode !== null) {
        throw new Error(
          `snapledger serve exited (${subprocess.exitCode ?? subprocess.signalCode}) before it answered`,
        );
      }
      if (!service.token) {
        service.token = await readFile(join(spec.dataDir, 'admin-token'), 'utf8')
          .then((t) => t.trim())
          .catch(() => '');
      }
      if (service.token) {
        const answer = await fetch(`${service.baseUrl}/v1/instances`, {
          headers: { 'X-Auth-Token': service.token },
        }).catch(() => null);
        if (answer?.status === 200) return service;
        if (answer && answer.status !== 200) {
          throw new Error(`GET /v1/instances answered ${answer.status}: ${await answer.text()}`);
        }
      }
      if (performance.now() > deadline) {
        throw new Error(`snapledger serve did not answer within ${SERVICE_READY_TIMEOUT_MS} ms`);
      }
      await delay(200);
    }
  } catch (error) {
    await stopService(service).catch(() => undefined);
    throw error;
  }
}

/** The instance appears with the service's first sync; sync again if it has not. */
export async function waitForInstance(service: Service, uuid: string): Promise<void> {
  const has = async () =>
    (await getJson<{ instances: { id: string }[] }>(service, '/v1/instances')).instances.some(
      (i) => i.id === uuid,
    );
  if (await has()) return;
  const response = await fetch(`${service.baseUrl}/v1/admin/instances/sync`, {
    method: 'POST',
    headers: { 'X-Auth-Token': service.token },
  });
  if (response.status !== 200)
    throw new Error(`instance sync answered ${response.status}: ${await response.text()}`);
  if (!(await has())) throw new Error(`instance ${uuid} is not known to snapledger after a sync`);
}

/** SIGTERM by PID, then SIGKILL if it has not exited after a grace period. */
export async function stopService(service: Service): Promise<void> {
  const child = service.subprocess;
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  if (child.pid === undefined || exited()) {
    await child;
    return;
  }
  const ended = once(child, 'exit');
  process.kill(child.pid, 'SIGTERM');
  // The grace timer is cancelled once the child is gone: a pending timer would hold the run open.
  const grace = new AbortController();
  const timer = delay(SERVICE_STOP_GRACE_MS, 'timeout' as const, { signal: grace.signal });
  timer.catch(() => undefined);
  const outcome = await Promise.race([ended, timer]);
  grace.abort();
  if (outcome === 'timeout' && !exited()) process.kill(child.pid, 'SIGKILL');
  await child;
}

export async function getJson<T>(service: Service, path: string): Promise<T> {
  const response = await fetch(`${service.baseUrl}${path}`, {
    headers: { 'X-Auth-Token': service.token },
  });
  const text = await response.text();
  if (response.status !== 200)
    throw new Error(`GET ${path} answered ${response.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text) as T;
}

/** True when something accepts connections on 127.0.0.1:port. */
export function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolvePromise) => {
    const socket = connect({ host: '127.0.0.1', port });
    const done = (answer: boolean) => {
      socket.destroy();
      resolvePromise(answer);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export async function logTail(path: string): Promise<string> {
  const text = await readFile(path, 'utf8').catch(() => '');
  return text.slice(-LOG_TAIL_BYTES).trim();
}

// ---------------------------------------------------------------------------------------------
// Statistics

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const ratio = (a: number, b: number) => Number((a / b).toFixed(3));

/** One round's snapledger/bare ratio with snapledger's save step replaced by the bare managedsave. */
export function saveEqualized(round: ColdSnapshotRound): number {
  const { snapledger, bare } = round;
  const saveMs = snapledger.times.steps.save.durationMs;
  return (snapledger.totalMs - saveMs + bare.managedsaveMs) / bare.totalMs;
}

function summarize(input: {
  diskMiB: number;
  dataMiB: number;
  rounds: number;
  warmupRounds: number;
  domain: TestDomain;
  measured: readonly ColdSnapshotRound[];
  warmups: readonly ColdSnapshotRound[];
}): ColdSnapshotBenchResult {
  const { measured } = input;
  const sl = measured.map((r) => r.snapledger);
  const bare = measured.map((r) => r.bare);
  const m = (values: number[]) => median(values);
  const steps = Object.fromEntries(
    SNAPSHOT_STEPS.map((s) => [
      s,
      {
        durationMs: m(sl.map((r) => r.times.steps[s].durationMs)),
        segmentMs: m(sl.map((r) => r.times.steps[s].segmentMs)),
      },
    ]),
  ) as Record<SnapshotStepName, { durationMs: number; segmentMs: number }>;
  const median_ = {
    snapledgerMs: m(sl.map((r) => r.totalMs)),
    snapledgerHistoryMs: m(sl.map((r) => r.historyMs)),
    snapledgerPolledMs: m(sl.map((r) => r.polledMs)),
    snapledgerPostMs: m(sl.map((r) => r.postMs)),
    bareMs: m(bare.map((r) => r.totalMs)),
    snapledgerDowntimeMs: m(sl.map((r) => r.downtimeMs)),
    bareDowntimeMs: m(bare.map((r) => r.downtimeMs)),
    snapledgerImageBytes: m(sl.map((r) => r.imageBytes)),
    bareImageBytes: m(bare.map((r) => r.imageBytes)),
    snapledgerTimes: {
      apiMs: m(sl.map((r) => r.times.apiMs)),
      steps,
      finishMs: m(sl.map((r) => r.times.finishMs)),
    },
    bareSteps: {
      managedsaveMs: m(bare.map((r) => r.managedsaveMs)),
      convertMs: m(bare.map((r) => r.convertMs)),
      startMs: m(bare.map((r) => r.startMs)),
    },
  };
  return {
    diskMiB: input.diskMiB,
    dataMiB: input.dataMiB,
    rounds: input.rounds,
    warmupRounds: input.warmupRounds,
    virtType: input.domain.virtType,
    perRound: measured,
    warmups: input.warmups,
    median: median_,
    ratio: ratio(median_.snapledgerMs, median_.bareMs),
    historyRatio: ratio(median_.snapledgerHistoryMs, median_.bareMs),
    downtimeRatio: ratio(median_.snapledgerDowntimeMs, median_.bareDowntimeMs),
    saveEqualizedRatio: Number(median(measured.map(saveEqualized)).toFixed(3)),
  };
}
