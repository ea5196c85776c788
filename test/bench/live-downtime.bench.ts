/**
 * Live-snapshot downtime benchmark: the downtime and wall time of a live snapshot against a
 * cold one, on running test domains with 256 MiB and 1 GiB of data.
 *
 * For each disk, two snapledger services run one after the other (own data dirs, same port):
 * cold with SNAPLEDGER_LIVE_SNAPSHOT=off, live with the default. Each round POSTs createImage
 * and polls the history until the snapshot is complete. Downtime is measured twice:
 * - the history's downtime_ms (what snapledger itself records);
 * - independently, from libvirt's lifecycle events (`virsh event --loop --timestamp`): the
 *   time the domain spent suspended or stopped between the request and the end.
 * The history's `mode` says which path really ran: until the live path exists, a "live" run
 * falls back to cold, and the result says so.
 *
 * Everything runs through execa with argument arrays. Prints nothing; the caller reports.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

export type DowntimePath = 'cold' | 'live';

export interface LiveDowntimeBenchOptions {
  /** MiB of data on each test disk. Default [256, 1024]. */
  readonly dataMiBs?: readonly number[];
  /** Measured rounds per disk and path. Default 2. */
  readonly rounds?: number;
  /** Port of the benchmark's services. Default 18911. */
  readonly port?: number;
  readonly uri?: string;
  readonly signal?: AbortSignal;
  readonly log?: (line: string) => void;
}

export interface DowntimeRound {
  readonly imageId: string;
  /** The path the history says ran (`live`, `cold`, ...). */
  readonly mode: string | null;
  /** The history's downtime_ms. */
  readonly historyDowntimeMs: number | null;
  /** Suspended/stopped time seen in libvirt's lifecycle events. */
  readonly observedDowntimeMs: number;
  /** The lifecycle events seen, for the report. */
  readonly lifecycle: readonly string[];
  /** POST sent → finished_at. */
  readonly wallMs: number;
}

export interface DowntimePathResult {
  readonly requested: DowntimePath;
  readonly rounds: readonly DowntimeRound[];
  /** The modes the history recorded (a live run that fell back shows `cold`). */
  readonly modes: readonly string[];
  readonly median: { historyDowntimeMs: number; observedDowntimeMs: number; wallMs: number };
}

export interface DowntimeCase {
  readonly dataMiB: number;
  readonly diskMiB: number;
  readonly cold: DowntimePathResult;
  readonly live: DowntimePathResult;
  /** True when the "live" runs did not take the live path. */
  readonly liveFellBack: boolean;
  /** median live wall / median cold wall. */
  readonly wallRatio: number;
  /** median live observed downtime / median cold observed downtime. */
  readonly downtimeRatio: number;
}

export interface LiveDowntimeBenchResult {
  readonly virtType: 'kvm' | 'qemu';
  readonly cases: readonly DowntimeCase[];
}

export const LIVE_DOWNTIME_DEFAULTS = {
  dataMiBs: [256, 1024],
  rounds: 2,
  port: 18911,
} as const;

const POLL_MS = 50;
const SNAPSHOT_TIMEOUT_MS = 10 * 60_000;
/** Time for `virsh event` to register before the request, and to report after the end. */
const LISTENER_SETTLE_MS = 400;

interface HistoryRow {
  readonly image_id: string;
  readonly result: string;
  readonly task_state: string | null;
  readonly mode: string | null;
  readonly failed_step: string | null;
  readonly failure_reason: string | null;
  readonly downtime_ms: number | null;
  readonly finished_at: string | null;
}

/**
 * Downtime from `virsh event --timestamp` lines: time from a Suspended or Stopped event (while
 * up) to the next Resumed or Started event, summed. A domain left down counts until `endAt`.
 */
export function downtimeFromLifecycle(lines: readonly string[], endAt: number): number {
  const pattern =
    /^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d\.\d+)([+-]\d\d)(\d\d): event 'lifecycle' for domain '[^']*': (\w+)/;
  const events = lines.flatMap((line) => {
    const m = pattern.exec(line);
    return m ? [{ at: Date.parse(`${m[1]}T${m[2]}${m[3]}:${m[4]}`), kind: m[5] }] : [];
  });
  let downSince: number | null = null;
  let total = 0;
  for (const [i, { at, kind }] of events.entries()) {
    const down = kind === 'Suspended' || kind === 'Stopped' || kind === 'Shutdown';
    if (down && downSince === null) downSince = at;
    // A restore reports Started, then Resumed when the guest runs again: count to Resumed.
    if (kind === 'Started' && events[i + 1]?.kind === 'Resumed') continue;
    if ((kind === 'Resumed' || kind === 'Started') && downSince !== null) {
      total += at - downSince;
      downSince = null;
    }
  }
  if (downSince !== null) total += endAt - downSince;
  return total;
}

export async function benchLiveDowntime(
  options: LiveDowntimeBenchOptions = {},
): Promise<LiveDowntimeBenchResult> {
  const d = LIVE_DOWNTIME_DEFAULTS;
  const dataMiBs = options.dataMiBs ?? d.dataMiBs;
  const rounds = options.rounds ?? d.rounds;
  const port = options.port ?? d.port;
  const uri = options.uri ?? TEST_LIBVIRT_URI;
  const { signal } = options;
  const log = options.log ?? (() => undefined);
  if (!Number.isSafeInteger(rounds) || rounds < 1) throw new RangeError('rounds must be >= 1');
  if (await portAnswers(port))
    throw new Error(`port ${port} is already in use: pick another one (port option)`);

  const root = repoRoot();
  const tempDir = await mkdtemp(join(tmpdir(), 'snapledger-downtime-'));
  const cases: DowntimeCase[] = [];
  let virtType: 'kvm' | 'qemu' = 'qemu';
  let domain: TestDomain | undefined;
  let service: Service | undefined;
  let failure: { error: unknown } | undefined;
  try {
    for (const dataMiB of dataMiBs) {
      signal?.throwIfAborted();
      const diskMiB = Math.max(1024, dataMiB * 2);
      log(`creating a running test domain (${diskMiB} MiB qcow2, ${dataMiB} MiB of data)`);
      domain = await createTestDomain({ name: 'downtime', diskMiB, dataMiB, start: true, uri });
      virtType = domain.virtType;
      const results: Partial<Record<DowntimePath, DowntimePathResult>> = {};
      for (const path of ['cold', 'live'] as const) {
        const dataDir = join(tempDir, `${dataMiB}-${path}`);
        const logPath = join(tempDir, `${dataMiB}-${path}.log`);
        try {
          service = await startService({
            root,
            dataDir,
            port,
            uri,
            logPath,
            env: path === 'cold' ? { SNAPLEDGER_LIVE_SNAPSHOT: 'off' } : {},
          });
          await waitForInstance(service, domain.uuid);
          const done: DowntimeRound[] = [];
          for (let round = 1; round <= rounds; round++) {
            signal?.throwIfAborted();
            const r = await measureRound(service, domain, signal);
            log(
              `${dataMiB} MiB, ${path} (ran as ${r.mode}) round ${round}/${rounds}: ` +
                `downtime ${r.historyDowntimeMs} ms (history), ${r.observedDowntimeMs} ms (libvirt events); wall ${r.wallMs} ms`,
            );
            done.push(r);
            await delay(1_000, undefined, { signal });
          }
          results[path] = {
            requested: path,
            rounds: done,
            modes: [...new Set(done.map((r) => r.mode ?? 'unknown'))],
            median: {
              historyDowntimeMs: median(done.map((r) => r.historyDowntimeMs ?? Number.NaN)),
              observedDowntimeMs: median(done.map((r) => r.observedDowntimeMs)),
              wallMs: median(done.map((r) => r.wallMs)),
            },
          };
        } catch (error) {
          const tail = await logTail(logPath);
          if (tail) log(`snapledger service log (tail):\n${tail}`);
          throw error;
        } finally {
          if (service) await stopService(service);
          service = undefined;
        }
      }
      const cold = results.cold as DowntimePathResult;
      const live = results.live as DowntimePathResult;
      cases.push({
        dataMiB,
        diskMiB,
        cold,
        live,
        liveFellBack: !live.modes.includes('live'),
        wallRatio: Number((live.median.wallMs / cold.median.wallMs).toFixed(3)),
        downtimeRatio: Number(
          (live.median.observedDowntimeMs / Math.max(1, cold.median.observedDowntimeMs)).toFixed(3),
        ),
      });
      await domain.destroy();
      domain = undefined;
    }
  } catch (error) {
    failure = { error };
  }
  const cleanup: string[] = [];
  if (service) await stopService(service).catch((e: Error) => cleanup.push(e.message));
  if (domain) await domain.destroy().catch((e: Error) => cleanup.push(e.message));
  await rm(tempDir, { recursive: true, force: true }).catch((e: Error) => cleanup.push(e.message));
  if (failure) throw failure.error;
  if (cleanup.length > 0) throw new Error(`cleanup failed: ${cleanup.join('; ')}`);
  return { virtType, cases };
}

/** One createImage while libvirt's lifecycle events are recorded. */
async function measureRound(
  service: Service,
  domain: TestDomain,
  signal: AbortSignal | undefined,
): Promise<DowntimeRound> {
  const state = await domain.state();
  if (state !== 'running') throw new Error(`domain ${domain.name} is '${state}', not running`);
  const lines: string[] = [];
  const listener = execa(
    'virsh',
    [
      '-c',
      domain.uri,
      'event',
      '--domain',
      domain.uuid,
      '--event',
      'lifecycle',
      '--loop',
      '--timestamp',
    ],
    { reject: false, stdin: 'ignore', env: { LC_ALL: 'C' }, forceKillAfterDelay: 2_000 },
  );
  listener.stdout?.on('data', (chunk: Buffer) => lines.push(...chunk.toString().split('\n')));
  try {
    await delay(LISTENER_SETTLE_MS, undefined, { signal });
    const postAt = Date.now();
    const response = await fetch(`${service.baseUrl}/v2.1/servers/${domain.uuid}/action`, {
      method: 'POST',
      headers: {
        'X-Auth-Token': service.token,
        'Content-Type': 'application/json',
        'OpenStack-API-Version': 'compute 2.45',
      },
      body: JSON.stringify({ createImage: { name: 'downtime-bench' } }),
    });
    const answer = await response.text();
    if (response.status !== 202)
      throw new Error(`createImage answered ${response.status}: ${answer.slice(0, 500)}`);
    const imageId = (JSON.parse(answer) as { image_id: string }).image_id;
    let row: HistoryRow | undefined;
    for (;;) {
      await delay(POLL_MS, undefined, { signal });
      row = (
        await getJson<{ snapshots: HistoryRow[] }>(
          service,
          `/v1/instances/${domain.uuid}/snapshots`,
        )
      ).snapshots.find((s) => s.image_id === imageId);
      if (row && row.result !== 'running' && row.task_state === null) break;
      if (Date.now() - postAt > SNAPSHOT_TIMEOUT_MS)
        throw new Error(`snapshot ${imageId} not complete after ${SNAPSHOT_TIMEOUT_MS} ms`);
    }
    if (row.result !== 'active') {
      throw new Error(
        `snapshot ${imageId} ended ${row.result} at ${row.failed_step ?? '?'}: ${row.failure_reason ?? '?'}`,
      );
    }
    const endAt = Date.parse(row.finished_at as string);
    await delay(LISTENER_SETTLE_MS, undefined, { signal });
    await rm(join(service.dataDir, 'images', imageId.toLowerCase()), { force: true });
    const lifecycle = lines.map((l) => l.trim()).filter((l) => l.includes("event 'lifecycle'"));
    return {
      imageId,
      mode: row.mode,
      historyDowntimeMs: row.downtime_ms,
      observedDowntimeMs: downtimeFromLifecycle(lifecycle, endAt),
      lifecycle,
      wallMs: endAt - postAt,
    };
  } finally {
    if (listener.pid !== undefined && listener.exitCode === null) listener.kill('SIGTERM');
    await listener;
  }
}
