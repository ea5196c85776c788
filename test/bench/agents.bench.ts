/**
 * The scale-out topology against the embedded default (docs/benchmarks.md, "API and agents").
 *
 * Set-up: a durable throwaway PostgreSQL (fsync and synchronous_commit on), a second libvirtd
 * in its own mount namespace (host-b, test/support/second-libvirtd.ts), one `serve --role
 * api` and two agents (host-a on the machine's libvirtd, host-b on the second), sharing the
 * database and an image directory; and beside them one all-in-one `serve` on SQLite files.
 *
 * 1. Latency: one running domain on host-a, snapshotted (createImage, live) in alternating
 *    rounds through the all-in-one service and through the API (carried out by host-a's
 *    agent). Each round is timed from the POST to the history's finished_at (same host
 *    clock). Both services follow the same libvirtd, so each also sees the other's lifecycle
 *    events: that noise falls on both sides.
 * 2. Throughput: `concurrent` shut-off domains, half on each host, all asked for a snapshot
 *    at once through the API; timed from the first POST to the last finished_at. Baseline:
 *    the bare `qemu-img convert` of the same disks, run with the same parallelism the two
 *    agents allow (SNAPLEDGER_MAX_CONCURRENT_SNAPSHOTS each).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { execa } from 'execa';
import { waitFor } from '../support/libvirtd-control';
import { startPostgres, type PostgresServer } from '../support/postgres-server';
import { startSecondLibvirtd, type SecondLibvirtd } from '../support/second-libvirtd';
import { ServiceProcess } from '../support/service-process';
import { median } from './snapshot.bench';
import { createTestDomain, TEST_LIBVIRT_URI, type TestDomain } from '../support/test-domain';

export const AGENTS_BENCH_DEFAULTS = {
  rounds: 5,
  concurrent: 20,
  diskMiB: 256,
  dataMiB: 64,
  /** Per agent, as SNAPLEDGER_MAX_CONCURRENT_SNAPSHOTS's default. */
  perAgent: 5,
} as const;

export interface AgentsBenchOptions {
  readonly rounds?: number;
  readonly concurrent?: number;
  readonly signal?: AbortSignal;
  readonly log?: (line: string) => void;
}

export interface AgentsBenchResult {
  readonly rounds: number;
  readonly diskMiB: number;
  readonly dataMiB: number;
  /** POST → finished_at per round, ms. */
  readonly allInOneMs: readonly number[];
  readonly apiAgentMs: readonly number[];
  readonly allInOneMedianMs: number;
  readonly apiAgentMedianMs: number;
  /** apiAgent median ÷ allInOne median. */
  readonly latencyRatio: number;
  readonly concurrent: number;
  readonly perAgent: number;
  /** First POST → last finished_at. */
  readonly concurrentWallMs: number;
  /** Each snapshot's POST → finished_at. */
  readonly concurrentEachMs: readonly number[];
  readonly concurrentByHost: Readonly<Record<string, number>>;
  /** The bare conversions of the same disks, same parallelism. */
  readonly bareWallMs: number;
  readonly throughputRatio: number;
}

const COMPUTE = { 'OpenStack-API-Version': 'compute 2.45' };

/** POSTs createImage, waits for the history to say active, returns POST → finished_at. */
async function snapshotOnce(
  service: ServiceProcess,
  domain: TestDomain,
  name: string,
): Promise<{ ms: number; sent: number; finishedAt: number }> {
  const sent = Date.now();
  const res = await service.api<{ image_id: string }>(
    'POST',
    `/v2.1/servers/${domain.uuid}/action`,
    { body: { createImage: { name } }, headers: COMPUTE },
  );
  if (res.status !== 202) throw new Error(`createImage answered ${res.status}`);
  const row = await service.waitForSnapshot(domain.uuid, res.body.image_id, 300_000);
  if (row.result !== 'active' || !row.finished_at)
    throw new Error(`snapshot ${row.image_id} ended ${row.result}`);
  const finishedAt = Date.parse(row.finished_at);
  return { ms: finishedAt - sent, sent, finishedAt };
}

function waitForInstances(service: ServiceProcess, ids: readonly string[]): Promise<void> {
  return waitFor('the instances to be discovered', async () => {
    const res = await service.api<{ instances: { id: string }[] }>('GET', '/v1/instances');
    const known = new Set(res.body.instances?.map((i) => i.id));
    return ids.every((id) => known.has(id));
  });
}

/** Runs `jobs` with at most `limit` at once. */
async function pooled(jobs: (() => Promise<void>)[], limit: number): Promise<void> {
  const queue = [...jobs];
  await Promise.all(
    Array.from({ length: Math.min(limit, queue.length) }, async () => {
      for (let job = queue.shift(); job; job = queue.shift()) await job();
    }),
  );
}

export async function benchAgents(options: AgentsBenchOptions = {}): Promise<AgentsBenchResult> {
  const d = AGENTS_BENCH_DEFAULTS;
  const rounds = options.rounds ?? d.rounds;
  const concurrent = options.concurrent ?? d.concurrent;
  const log = options.log ?? (() => undefined);
  const check = () => {
    if (options.signal?.aborted) throw new Error('interrupted');
  };
  let pgServer: PostgresServer | undefined;
  let libvirtB: SecondLibvirtd | undefined;
  let imageDir: string | undefined;
  let scratch: string | undefined;
  const services: ServiceProcess[] = [];
  const domains: TestDomain[] = [];
  try {
    pgServer = await startPostgres({ durable: true });
    const url = await pgServer.createDatabase();
    libvirtB = await startSecondLibvirtd();
    imageDir = await mkdtemp(join(tmpdir(), 'snapledger-bench-images-'));
    scratch = await mkdtemp(join(tmpdir(), 'snapledger-bench-bare-'));
    const shared = { SNAPLEDGER_DATABASE_URL: url, SNAPLEDGER_IMAGE_DIR: imageDir };
    const [allInOne, api, agentA, agentB] = await Promise.all(
      [0, 1, 2, 3].map(() => ServiceProcess.create()),
    );
    services.push(allInOne!, api!, agentA!, agentB!);
    log('starting PostgreSQL, a second libvirtd, the API, two agents and an all-in-one service');
    await api!.start(shared, ['serve', '--role', 'api']);
    await agentA!.start(shared, ['agent', '--host', 'host-a', '--libvirt-uri', TEST_LIBVIRT_URI]);
    await agentB!.start(shared, ['agent', '--host', 'host-b', '--libvirt-uri', libvirtB.uri]);
    await allInOne!.start({});

    // 1. Latency.
    const timed = await createTestDomain({
      name: 'bench-agents',
      start: true,
      diskMiB: d.diskMiB,
      dataMiB: d.dataMiB,
    });
    domains.push(timed);
    await waitForInstances(api!, [timed.uuid]);
    await waitForInstances(allInOne!, [timed.uuid]);
    const allInOneMs: number[] = [];
    const apiAgentMs: number[] = [];
    for (let round = 0; round < rounds + 1; round += 1) {
      check();
      const order: ['all-in-one' | 'api+agent', ServiceProcess][] = [
        ['all-in-one', allInOne!],
        ['api+agent', api!],
      ];
      if (round % 2 === 1) order.reverse();
      for (const [side, service] of order) {
        const { ms } = await snapshotOnce(service, timed, `latency-${side}-${round}`);
        if (round === 0) continue; // warm-up
        (side === 'all-in-one' ? allInOneMs : apiAgentMs).push(ms);
        log(`latency round ${round}: ${side} ${ms} ms`);
        await delay(1000);
      }
    }
    await allInOne!.stop();

    // 2. Throughput.
    const perHost = Math.ceil(concurrent / 2);
    const made = await Promise.all(
      Array.from({ length: concurrent }, (_, i) =>
        createTestDomain({
          name: `bench-c${i}`,
          diskMiB: d.diskMiB,
          dataMiB: d.dataMiB,
          ...(i < perHost ? {} : { uri: libvirtB!.uri }),
        }),
      ),
    );
    domains.push(...made);
    await waitForInstances(
      api!,
      made.map((m) => m.uuid),
    );
    check();
    log(`throughput: ${concurrent} snapshots at once across two agents`);
    const results = await Promise.all(made.map((m, i) => snapshotOnce(api!, m, `concurrent-${i}`)));
    const each = results.map((r) => r.ms);
    const concurrentWallMs =
      Math.max(...results.map((r) => r.finishedAt)) - Math.min(...results.map((r) => r.sent));
    log(`throughput: bare qemu-img convert of the same ${concurrent} disks`);
    const bareStarted = performance.now();
    await pooled(
      made.map((m, i) => async () => {
        await execa('qemu-img', [
          'convert',
          '-f',
          'qcow2',
          '-O',
          'qcow2',
          m.diskPath,
          join(scratch!, `bare-${i}.qcow2`),
        ]);
      }),
      2 * d.perAgent,
    );
    const bareWallMs = performance.now() - bareStarted;
    return {
      rounds,
      diskMiB: d.diskMiB,
      dataMiB: d.dataMiB,
      allInOneMs,
      apiAgentMs,
      allInOneMedianMs: median(allInOneMs),
      apiAgentMedianMs: median(apiAgentMs),
      latencyRatio: median(apiAgentMs) / median(allInOneMs),
      concurrent,
      perAgent: d.perAgent,
      concurrentWallMs,
      concurrentEachMs: each,
      concurrentByHost: { 'host-a': perHost, 'host-b': concurrent - perHost },
      bareWallMs,
      throughputRatio: bareWallMs / concurrentWallMs,
    };
  } finally {
    for (const s of services) await s.dispose().catch(() => undefined);
    for (const m of domains) await m.destroy().catch(() => undefined);
    await libvirtB?.stop();
    await pgServer?.stop();
    for (const dir of [imageDir, scratch]) if (dir) await rm(dir, { recursive: true, force: true });
  }
}
