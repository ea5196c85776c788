/**
 * History-route benchmark: `GET /v1/instances/{id}/snapshots` of an instance with 1,000
 * snapshots in its history, against the trivial `GET /healthz` of the same service, both at
 * 50 connections with autocannon, in the same run: after a warm-up of each route, `rounds`
 * alternating measurements of each (which route goes first alternates too), so that drift in
 * the machine's load hits both alike. The figures are the medians of the rounds.
 *
 * Every answer must be a 2xx: autocannon counts the others (and connection errors and
 * timeouts), and any of them, in a warm-up or a measured round, fails the benchmark.
 *
 * The data directory is made with the real SqliteEventStore: one instance, then for each
 * snapshot the events of an offline snapshot as the service appends them (task state taken,
 * ImageReserved, SnapshotPlanned, ImageExtracted, Uploaded, task state released), stamped as
 * a createImage request would stamp them. A real `bin/snapledger serve` then builds its views
 * from the log (no libvirt is needed: the service is pointed at a socket that does not exist).
 * Prints nothing; the caller reports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import autocannon from 'autocannon';
import { median } from './snapshot.bench';
import { stampEvents } from '../../src/commands/event-stamping';
import { SqliteEventStore } from '../../src/event-store/sqlite-event-store';
import { instanceStream, type Actor, type SnapledgerEvent } from '../../src/events';
import { offlineSnapshotEvents } from '../support/snapshot-traffic';

export interface HistoryRouteBenchOptions {
  /** Snapshots in the instance's history. Default 1000. */
  readonly snapshots?: number;
  /** autocannon connections. Default 50. */
  readonly connections?: number;
  /** Measured rounds per route. Default 5. */
  readonly rounds?: number;
  /** Seconds measured per route and round. Default 5. */
  readonly durationSec?: number;
  /** Seconds of warm-up per route, not measured. Default 2. */
  readonly warmupSec?: number;
  /** Port of the benchmark's own service. Default 18902. */
  readonly port?: number;
  readonly signal?: AbortSignal;
  readonly log?: (line: string) => void;
}

/** One autocannon run of one route. */
export interface RouteLoadRound {
  readonly path: string;
  /** 1..rounds for measured rounds, 0 for the warm-up. */
  readonly round: number;
  readonly requestsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requests: number;
  /** Answers with a status outside 2xx (must be 0). */
  readonly non2xx: number;
  /** Connection errors and timeouts (must be 0). */
  readonly errors: number;
}

/** A route's figures: medians over the measured rounds; the counts are summed. */
export interface RouteLoadResult {
  readonly path: string;
  readonly requestsPerSec: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Requests answered in all measured rounds. */
  readonly requests: number;
  /** Non-2xx answers in all runs, warm-up included (the benchmark fails unless 0). */
  readonly non2xx: number;
  /** Connection errors and timeouts in all runs, warm-up included (fails unless 0). */
  readonly errors: number;
  /** Bytes of one response body. */
  readonly bodyBytes: number;
}

export interface HistoryRouteBenchResult {
  readonly snapshots: number;
  /** Rows in the route's default page. */
  readonly pageRows: number;
  readonly connections: number;
  /** Measured rounds per route. */
  readonly rounds: number;
  /** Seconds per route and round. */
  readonly durationSec: number;
  readonly warmupSec: number;
  readonly history: RouteLoadResult;
  readonly health: RouteLoadResult;
  /** Every run, warm-ups first, then the measured rounds in the order they ran. */
  readonly runs: readonly RouteLoadRound[];
  /** median history requests/s ÷ median health requests/s. */
  readonly ratio: number;
}

export const HISTORY_ROUTE_BENCH_DEFAULTS = {
  snapshots: 1000,
  connections: 50,
  rounds: 5,
  durationSec: 5,
  warmupSec: 2,
  port: 18902,
} as const;

const REPO = resolve(__dirname, '..', '..', '..');
const CLI = join(REPO, 'bin', 'snapledger');

const ADMIN: Actor = { userId: 'bench-admin', projectId: 'bench', roles: ['admin', 'member'] };

/** Appends the log of one instance with `count` completed offline snapshots; returns its id. */
export async function writeSnapshotLog(eventsFile: string, count: number): Promise<string> {
  const store = SqliteEventStore.open(eventsFile);
  const instanceId = randomUUID();
  let clock = Date.parse('2026-01-01T00:00:00.000Z');
  const tick = (ms: number) => ({ now: () => new Date((clock += ms)) });
  const ids = { uuid: () => randomUUID() };
  try {
    let instanceRevision = -1;
    const onInstance = async (requestId: string, event: SnapledgerEvent, ms = 1) => {
      const context = { actor: ADMIN, requestId, correlationId: requestId, causationId: requestId };
      const r = await store.append(
        instanceStream(instanceId),
        stampEvents([event], context, tick(ms), ids),
        instanceRevision < 0 ? 'no_stream' : instanceRevision,
      );
      instanceRevision = r.nextExpectedRevision;
    };
    const onStream = async (stream: string, requestId: string, events: SnapledgerEvent[]) => {
      const context = { actor: ADMIN, requestId, correlationId: requestId, causationId: requestId };
      await store.append(stream, stampEvents(events, context, tick(5), ids), 'any');
    };
    const syncId = `req-${randomUUID()}`;
    await onInstance(syncId, {
      type: 'InstanceRegistered',
      data: {
        instanceId,
        domainName: 'bench-history',
        projectId: ADMIN.projectId,
        userId: ADMIN.userId,
        ownerSource: 'snapledger',
        diskPath: '/var/lib/libvirt/images/bench-history.qcow2',
        diskFormat: 'qcow2',
        powerState: 'shutdown',
        vmState: 'stopped',
        vcpus: 1,
        memoryMiB: 128,
        host: 'bench-host',
      },
    });
    for (let i = 0; i < count; i++) {
      const imageId = randomUUID();
      const requestId = `req-${randomUUID()}`;
      for (const { stream, event } of offlineSnapshotEvents({
        instanceId,
        imageId,
        imageName: `nightly-${String(i).padStart(4, '0')}`,
        actor: ADMIN,
        domainName: 'bench-history',
        diskPath: '/var/lib/libvirt/images/bench-history.qcow2',
        now: () => new Date(clock).toISOString(),
      })) {
        if (stream === instanceStream(instanceId)) await onInstance(requestId, event, 2);
        else await onStream(stream, requestId, [event]);
      }
      clock += 60_000;
    }
    return instanceId;
  } finally {
    await store.close();
  }
}

async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  child: ChildProcess,
  logFile: string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`the service exited while waiting for ${what}: ${tail(logFile)}`);
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch {
      // not answering yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${tail(logFile)}`);
    await delay(200);
  }
}

function tail(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-2000);
  } catch {
    return '(no log)';
  }
}

/** CPU seconds (user + system) a process has used, from /proc (Linux). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks
}

/**
 * Waits until the service is idle (under 5 % of a CPU over a second): after start-up, the
 * snapshot saga of a fresh state database replays the log and reloads every snapshot's
 * streams, which must not overlap the measurement.
 */
async function waitForIdle(pid: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let before = cpuSeconds(pid);
  for (;;) {
    await delay(1000);
    const now = cpuSeconds(pid);
    if (now - before < 0.05) return;
    before = now;
    if (Date.now() > deadline) throw new Error('the service did not become idle');
  }
}

async function load(
  url: string,
  headers: Record<string, string>,
  connections: number,
  duration: number,
): Promise<autocannon.Result> {
  return autocannon({ url, headers, connections, duration, method: 'GET' });
}

/** One run's figures; throws when any answer was not a 2xx or a request failed. */
export function loadRound(path: string, round: number, r: autocannon.Result): RouteLoadRound {
  const errors = r.errors + r.timeouts;
  const what = round === 0 ? 'warm-up' : `round ${round}`;
  if (r.non2xx > 0 || errors > 0) {
    const statuses = Object.entries(r.statusCodeStats ?? {})
      .map(([code, stat]) => `${code}: ${stat.count ?? 0}`)
      .join(', ');
    throw new Error(
      `GET ${path} (${what}): ${r.non2xx} non-2xx answers and ${errors} errors/timeouts ` +
        `out of ${r.requests.total} requests (status codes: ${statuses || 'none'})`,
    );
  }
  if (r.requests.total === 0) throw new Error(`GET ${path} (${what}): no request was answered`);
  return {
    path,
    round,
    requestsPerSec: r.requests.average,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    requests: r.requests.total,
    non2xx: r.non2xx,
    errors,
  };
}

function summarize(
  path: string,
  runs: readonly RouteLoadRound[],
  bodyBytes: number,
): RouteLoadResult {
  const mine = runs.filter((r) => r.path === path);
  const measured = mine.filter((r) => r.round > 0);
  return {
    path,
    requestsPerSec: median(measured.map((r) => r.requestsPerSec)),
    p50Ms: median(measured.map((r) => r.p50Ms)),
    p99Ms: median(measured.map((r) => r.p99Ms)),
    requests: measured.reduce((n, r) => n + r.requests, 0),
    non2xx: mine.reduce((n, r) => n + r.non2xx, 0),
    errors: mine.reduce((n, r) => n + r.errors, 0),
    bodyBytes,
  };
}

export async function benchHistoryRoute(
  options: HistoryRouteBenchOptions = {},
): Promise<HistoryRouteBenchResult> {
  const d = HISTORY_ROUTE_BENCH_DEFAULTS;
  const snapshots = options.snapshots ?? d.snapshots;
  const connections = options.connections ?? d.connections;
  const rounds = options.rounds ?? d.rounds;
  const durationSec = options.durationSec ?? d.durationSec;
  const warmupSec = options.warmupSec ?? d.warmupSec;
  const port = options.port ?? d.port;
  const log = options.log ?? (() => undefined);
  const base = `http://127.0.0.1:${port}`;
  if (!Number.isSafeInteger(rounds) || rounds < 1) throw new RangeError('rounds must be >= 1');
  if (!Number.isSafeInteger(durationSec) || durationSec < 1)
    throw new RangeError('durationSec must be an integer >= 1');
  if (!Number.isSafeInteger(warmupSec) || warmupSec < 0)
    throw new RangeError('warmupSec must be an integer >= 0');
  const dataDir = await mkdtemp(join(tmpdir(), 'snapledger-bench-history-'));
  let child: ChildProcess | null = null;
  try {
    log(`writing ${snapshots} snapshots to the log`);
    const instanceId = await writeSnapshotLog(join(dataDir, 'events.sqlite'), snapshots);
    const logFile = join(dataDir, 'serve.log');
    const out = openSync(logFile, 'a');
    child = spawn(process.execPath, [CLI, 'serve'], {
      env: {
        ...process.env,
        SNAPLEDGER_DATA_DIR: dataDir,
        SNAPLEDGER_PORT: String(port),
        SNAPLEDGER_HOST: '127.0.0.1',
        SNAPLEDGER_LOG_LEVEL: 'info',
        SNAPLEDGER_LIBVIRT_URI: 'qemu+unix:///system?socket=/nonexistent/snapledger-bench',
      },
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    const started = child;
    const tokenFile = join(dataDir, 'admin-token');
    const token = await waitFor(
      'the admin token',
      async () => (existsSync(tokenFile) ? readFileSync(tokenFile, 'utf8').trim() : undefined),
      60_000,
      started,
      logFile,
    );
    log('waiting for the projections to build the views');
    await waitFor(
      'the projections to catch up',
      async () => {
        const res = await fetch(`${base}/readyz`);
        const body = (await res.json()) as { details?: { projections?: { status?: string } } };
        return body.details?.projections?.status === 'up' ? true : undefined;
      },
      300_000,
      started,
      logFile,
    );
    log('waiting for the service to be idle (the saga replays the log on a fresh state)');
    await waitForIdle(started.pid!, 600_000);
    const historyPath = `/v1/instances/${instanceId}/snapshots`;
    const headers = { 'x-auth-token': token };
    const first = await fetch(`${base}${historyPath}`, { headers });
    const firstText = await first.text();
    if (first.status !== 200)
      throw new Error(`${historyPath} answered ${first.status}: ${firstText.slice(0, 300)}`);
    const pageRows = (JSON.parse(firstText) as { snapshots: unknown[] }).snapshots.length;
    const healthAnswer = await fetch(`${base}/healthz`);
    const healthText = await healthAnswer.text();
    if (healthAnswer.status !== 200)
      throw new Error(`/healthz answered ${healthAnswer.status}: ${healthText.slice(0, 300)}`);

    const routes: readonly string[] = ['/healthz', historyPath];
    const runs: RouteLoadRound[] = [];
    const run = async (path: string, round: number, seconds: number) => {
      if (options.signal?.aborted) throw options.signal.reason;
      const r = loadRound(path, round, await load(`${base}${path}`, headers, connections, seconds));
      runs.push(r);
      return r;
    };
    if (warmupSec > 0) {
      for (const path of routes) {
        log(`${path}: ${warmupSec} s warm-up, ${connections} connections`);
        await run(path, 0, warmupSec);
      }
    }
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 === 1 ? routes : [...routes].reverse();
      for (const path of order) {
        const r = await run(path, round, durationSec);
        log(
          `round ${round}/${rounds} ${path}: ${Math.round(r.requestsPerSec)} req/s, ` +
            `p99 ${r.p99Ms} ms (${durationSec} s, ${connections} connections)`,
        );
      }
    }
    const health = summarize('/healthz', runs, Buffer.byteLength(healthText));
    const history = summarize(historyPath, runs, Buffer.byteLength(firstText));
    return {
      snapshots,
      pageRows,
      connections,
      rounds,
      durationSec,
      warmupSec,
      history,
      health,
      runs,
      ratio: history.requestsPerSec / health.requestsPerSec,
    };
  } finally {
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      process.kill(child.pid, 'SIGTERM');
      // Cancel the grace timer once the child is gone: a pending timer would hold the run open.
      const grace = new AbortController();
      await Promise.race([
        exited,
        delay(20_000, undefined, { signal: grace.signal }).catch(() => undefined),
      ]);
      grace.abort();
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
    }
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** Runs the benchmark alone: `node dist/test/bench/history-route.bench.js`. */
if (require.main === module) {
  benchHistoryRoute({ log: (l) => process.stderr.write(`${l}\n`) }).then(
    (r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`),
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
