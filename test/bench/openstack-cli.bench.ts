/**
 * Wall time of `openstack server image create --wait` (Debian's OSC 6.0) against a plain curl
 * sequence doing the same work (POST createImage at 2.45, then poll GET /v2/images/{id} every
 * 0.2 s until active), on one small test domain per power state (shut off: an offline
 * snapshot; running: a live one) and one snapledger service (started as a child process with
 * its own temp data dir and port, as in snapshot.bench.ts).
 *
 * Also times `openstack server list`: the CLI's own start-up and discovery cost. osc_lib's
 * --wait polls every 5 s, which dominates the difference.
 *
 * Fails loudly: a non-zero exit of either client (the curl sequence runs with `set -euo
 * pipefail` and `curl -f`, so any non-2xx answer ends it), an image that ends killed or
 * deleted, or a snapshot whose history does not say 'active'.
 *
 * Run through run-benchmarks.ts (`--only openstack-cli`). Prints nothing; the caller reports.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { execa } from 'execa';
import { createTestDomain, TEST_LIBVIRT_URI, type TestDomain } from '../support/test-domain';
import {
  getJson,
  logTail,
  median,
  portAnswers,
  repoRoot,
  startService,
  stopService,
  waitForInstance,
  type Service,
} from './snapshot.bench';

/** The curl sequence, as one would type it; reads BASE, TOKEN, SERVER and NAME. */
export const CURL_SEQUENCE = `
set -euo pipefail
id=$(curl -sf -X POST "$BASE/v2.1/servers/$SERVER/action" \\
  -H "X-Auth-Token: $TOKEN" -H 'OpenStack-API-Version: compute 2.45' \\
  -H 'Content-Type: application/json' -d "{\\"createImage\\": {\\"name\\": \\"$NAME\\"}}" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["image_id"])')
while :; do
  image=$(curl -sf "$BASE/v2/images/$id" -H "X-Auth-Token: $TOKEN")
  case "$image" in
    *'"status":"active"'*) break ;;
    *'"status":"killed"'* | *'"status":"deleted"'*) echo "image $id: $image" >&2; exit 1 ;;
  esac
  sleep 0.2
done
echo "$id"
`;

export type OpenstackCliMode = 'shut off' | 'running';

export interface OpenstackCliBenchOptions {
  /** Rounds per power state. Default 5. */
  readonly rounds?: number;
  /** Default both: ['shut off', 'running']. */
  readonly modes?: readonly OpenstackCliMode[];
  /** Port of the benchmark's service. Default 18921. */
  readonly port?: number;
  readonly uri?: string;
  readonly signal?: AbortSignal;
  readonly log?: (line: string) => void;
}

export interface OpenstackCliRound {
  /** `openstack server image create --wait`, ms. */
  readonly oscMs: number;
  /** The curl sequence, ms. */
  readonly curlMs: number;
  /** `openstack server list`, ms (client start-up and discovery). */
  readonly listMs: number;
  /** The snapshot modes the history recorded for the two images (osc's, then curl's). */
  readonly snapshotModes: readonly string[];
}

export interface OpenstackCliCase {
  readonly mode: OpenstackCliMode;
  readonly rounds: readonly OpenstackCliRound[];
  readonly median: { oscMs: number; curlMs: number; listMs: number };
  /** median osc ÷ median curl. */
  readonly ratio: number;
}

export interface OpenstackCliBenchResult {
  readonly diskMiB: number;
  readonly dataMiB: number;
  readonly oscVersion: string;
  readonly cases: readonly OpenstackCliCase[];
}

export const OPENSTACK_CLI_BENCH_DEFAULTS = {
  rounds: 5,
  modes: ['shut off', 'running'] as readonly OpenstackCliMode[],
  port: 18921,
  diskMiB: 16,
  dataMiB: 2,
} as const;

/** Neither client may take longer than this for one snapshot (osc's --wait never gives up). */
const CLIENT_TIMEOUT_MS = 5 * 60_000;

interface HistoryRow {
  readonly image_id: string;
  readonly result: string;
  readonly mode: string | null;
  readonly failed_step: string | null;
  readonly failure_reason: string | null;
}

/**
 * The instance's history once it holds `count` snapshots and none is still running (the
 * history's projection may trail the image's status by a moment); newest first.
 */
async function settledHistory(
  service: Service,
  uuid: string,
  count: number,
): Promise<HistoryRow[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const rows = (
      await getJson<{ snapshots: HistoryRow[] }>(service, `/v1/instances/${uuid}/snapshots`)
    ).snapshots;
    if (rows.length >= count && rows.every((s) => s.result !== 'running')) return rows;
    if (Date.now() > deadline) {
      throw new Error(
        `the history holds ${rows.length} snapshots (${rows.map((s) => s.result).join(', ')}), ` +
          `expected ${count} finished ones`,
      );
    }
    await delay(100);
  }
}

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await work();
  return { ms: performance.now() - started, value };
}

export async function benchOpenstackCli(
  options: OpenstackCliBenchOptions = {},
): Promise<OpenstackCliBenchResult> {
  const d = OPENSTACK_CLI_BENCH_DEFAULTS;
  const rounds = options.rounds ?? d.rounds;
  const modes = options.modes ?? d.modes;
  const port = options.port ?? d.port;
  const uri = options.uri ?? TEST_LIBVIRT_URI;
  const { signal } = options;
  const log = options.log ?? (() => undefined);
  if (!Number.isSafeInteger(rounds) || rounds < 1) throw new RangeError('rounds must be >= 1');
  if (await portAnswers(port))
    throw new Error(`port ${port} is already in use: pick another one (port option)`);
  const oscVersion = (
    await execa('openstack', ['--version'], { timeout: 60_000, stdin: 'ignore', all: true })
  ).all.trim();

  const root = repoRoot();
  const home = await mkdtemp(join(tmpdir(), 'snapledger-osc-bench-'));
  const cases: OpenstackCliCase[] = [];
  let domain: TestDomain | undefined;
  let service: Service | undefined;
  let failure: { error: unknown } | undefined;
  try {
    for (const mode of modes) {
      signal?.throwIfAborted();
      log(`${mode}: creating a test domain (${d.diskMiB} MiB qcow2, ${d.dataMiB} MiB of data)`);
      domain = await createTestDomain({
        name: 'osc-bench',
        diskMiB: d.diskMiB,
        dataMiB: d.dataMiB,
        start: mode === 'running',
        uri,
      });
      const logPath = join(home, `${mode.replace(' ', '-')}.log`);
      try {
        service = await startService({
          root,
          dataDir: join(home, `data-${mode.replace(' ', '-')}`),
          port,
          uri,
          logPath,
        });
        await waitForInstance(service, domain.uuid);
        cases.push(await measureMode(mode, rounds, service, domain, home, signal, log));
      } catch (error) {
        const tail = await logTail(logPath);
        if (tail) log(`snapledger service log (tail):\n${tail}`);
        throw error;
      } finally {
        if (service) await stopService(service);
        service = undefined;
      }
      await domain.destroy();
      domain = undefined;
    }
  } catch (error) {
    failure = { error };
  }
  const cleanup: string[] = [];
  if (service) await stopService(service).catch((e: Error) => cleanup.push(e.message));
  if (domain) await domain.destroy().catch((e: Error) => cleanup.push(e.message));
  await rm(home, { recursive: true, force: true }).catch((e: Error) => cleanup.push(e.message));
  if (failure) throw failure.error;
  if (cleanup.length > 0) throw new Error(`cleanup failed: ${cleanup.join('; ')}`);
  return { diskMiB: d.diskMiB, dataMiB: d.dataMiB, oscVersion, cases };
}

async function measureMode(
  mode: OpenstackCliMode,
  rounds: number,
  service: Service,
  domain: TestDomain,
  home: string,
  signal: AbortSignal | undefined,
  log: (line: string) => void,
): Promise<OpenstackCliCase> {
  const clouds = join(home, 'clouds.yaml');
  await writeFile(
    clouds,
    [
      'clouds:',
      '  bench:',
      '    auth_type: admin_token',
      '    auth:',
      `      endpoint: ${service.baseUrl}/v2.1`,
      `      token: ${service.token}`,
      `    image_endpoint_override: ${service.baseUrl}/image`,
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const env = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: home,
    OS_CLIENT_CONFIG_FILE: clouds,
  };
  const run = { env, extendEnv: false, timeout: CLIENT_TIMEOUT_MS, stdin: 'ignore' } as const;
  const osc = (args: string[]) =>
    execa('openstack', ['--os-cloud', 'bench', ...args], { ...run, cancelSignal: signal });
  const curl = (name: string) =>
    execa('bash', ['-c', CURL_SEQUENCE], {
      ...run,
      cancelSignal: signal,
      env: { ...env, BASE: service.baseUrl, TOKEN: service.token, SERVER: domain.uuid, NAME: name },
    });

  const done: OpenstackCliRound[] = [];
  for (let i = 1; i <= rounds; i++) {
    signal?.throwIfAborted();
    const slug = `${mode.replace(' ', '-')}-${i}`;
    const list = await timed(() => osc(['server', 'list', '-f', 'json']));
    const viaOsc = await timed(() =>
      osc(['server', 'image', 'create', '--name', `bench-osc-${slug}`, '--wait', domain.uuid]),
    );
    const viaCurl = await timed(() => curl(`bench-curl-${slug}`));
    const curlImage = viaCurl.value.stdout.trim().split('\n').pop() ?? '';
    // Both images must end 'active' in the history, whatever the clients said.
    const history = await settledHistory(service, domain.uuid, 2 * i);
    const failed = history.find((s) => s.result !== 'active');
    if (failed) {
      throw new Error(
        `snapshot ${failed.image_id} ended ${failed.result} at ${failed.failed_step ?? '?'}: ` +
          `${failed.failure_reason ?? '?'}`,
      );
    }
    if (!history.some((s) => s.image_id === curlImage))
      throw new Error(`the curl sequence's image ${curlImage} is not in the history`);
    const modesSeen = [...new Set(history.slice(0, 2).map((s) => s.mode ?? 'unknown'))];
    done.push({ oscMs: viaOsc.ms, curlMs: viaCurl.ms, listMs: list.ms, snapshotModes: modesSeen });
    log(
      `${mode} round ${i}/${rounds}: osc ${viaOsc.ms.toFixed(0)} ms, curl ${viaCurl.ms.toFixed(0)} ms, ` +
        `server list ${list.ms.toFixed(0)} ms`,
    );
  }
  const m = {
    oscMs: median(done.map((r) => r.oscMs)),
    curlMs: median(done.map((r) => r.curlMs)),
    listMs: median(done.map((r) => r.listMs)),
  };
  return { mode, rounds: done, median: m, ratio: m.oscMs / m.curlMs };
}
