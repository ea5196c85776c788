/**
 * Live-snapshot downtime benchmark: the downtime and wall time of a live snapshot against a
 * cold one, on running test domains with 256 MiB and 1 GiB of data.
 *
 * For each disk, two snapledger services run one after the other (own data dirs, same port):
 * cold with SNAPLEDGER_LIVE_SNAPSHOT=off, live with the default. Each round POSTs createImage
 * and polls the history until the snapshot is complete. Downtime is measured three ways:
 * - the history's downtime_ms (what snapledger itself records);
 * - independently, from libvirt's lifecycle events (`virsh event --loop --timestamp`): the
 *   time the domain spent suspended or stopped between the request and the end;
 * - from inside: the guest runs the boot writer (test-domain.ts), which writes one byte to its
 *   serial console at every BIOS timer tick (~55 ms). The host polls the size of the console's
 *   log file every ~5 ms and stamps each growth with the host clock; the longest time between
 *   two arrivals around the snapshot is the longest pause of the guest's own progress. (A
 *   paused guest's virtual clock stops, so the guest's tick count cannot tell; arrival times
 *   on the host can.) Its normal value is one tick period, not 0.
 * The history's `mode` says which path really ran: until the live path exists, a "live" run
 * falls back to cold, and the result says so.
 *
 * Everything runs through execa with argument arrays. Prints nothing; the caller reports.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
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
  /** Measured rounds per disk and path. Default 5. */
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
  /** The guest's own progress, seen through its serial console. */
  readonly guest: GuestProgress;
}

/** The guest's progress marks (serial console output) around one snapshot, on the host clock. */
export interface GuestProgress {
  /** Longest time between two arrivals of output that overlaps POST → finished_at. */
  readonly longestGapMs: number;
  /** When that gap began, ms after the POST (negative: before it). */
  readonly gapStartMs: number;
  /** Median time between arrivals over the whole watch: the guest's normal pace. */
  readonly typicalGapMs: number;
  /** Arrivals seen over the whole watch. */
  readonly arrivals: number;
}

export interface DowntimePathResult {
  readonly requested: DowntimePath;
  readonly rounds: readonly DowntimeRound[];
  /** The modes the history recorded (a live run that fell back shows `cold`). */
  readonly modes: readonly string[];
  readonly median: {
    historyDowntimeMs: number;
    observedDowntimeMs: number;
    wallMs: number;
    guestGapMs: number;
    guestTypicalGapMs: number;
  };
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
  rounds: 5,
  port: 18911,
} as const;

const POLL_MS = 50;
const SNAPSHOT_TIMEOUT_MS = 10 * 60_000;
/** Time for `virsh event` to register before the request, and to report after the end. */
const LISTENER_SETTLE_MS = 400;
/** How often the serial log's size is polled. */
const SERIAL_POLL_MS = 5;
/** After the end, how long to wait for the guest's first mark before calling it stuck. */
const GUEST_RESUME_TIMEOUT_MS = 10_000;

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

/**
 * The guest's progress around a snapshot from the host times at which its serial output
 * arrived (sorted): the longest time between two arrivals that overlaps [from, to], and the
 * median time between arrivals (the guest's normal pace). With no gap overlapping the window
 * the longest gap is 0.
 */
export function guestProgress(
  arrivals: readonly number[],
  from: number,
  to: number,
): GuestProgress {
  let longestGapMs = 0;
  let gapStart = from;
  for (let i = 1; i < arrivals.length; i++) {
    const [a, b] = [arrivals[i - 1], arrivals[i]];
    if (b <= from || a >= to) continue;
    if (b - a > longestGapMs) {
      longestGapMs = b - a;
      gapStart = a;
    }
  }
  return {
    longestGapMs,
    gapStartMs: gapStart - from,
    typicalGapMs: median(arrivals.slice(1).map((b, i) => b - arrivals[i])),
    arrivals: arrivals.length,
  };
}

/**
 * Polls a file's size every SERIAL_POLL_MS and stamps each growth with the host clock
 * (Date.now(), the clock of the history's timestamps). The first poll only sets the size.
 */
function watchGrowth(path: string): {
  readonly arrivals: number[];
  /** Throws what ended the polling early (e.g. the file vanished), if anything did. */
  check(): void;
  stop(): Promise<void>;
} {
  const arrivals: number[] = [];
  let stopped = false;
  let failure: { error: unknown } | undefined;
  let size: number | undefined;
  const polling = (async () => {
    while (!stopped) {
      const now = (await stat(path)).size;
      const at = Date.now();
      if (size !== undefined && now > size) arrivals.push(at);
      size = now;
      await delay(SERIAL_POLL_MS);
    }
  })().catch((error: unknown) => {
    failure = { error };
  });
  return {
    arrivals,
    check() {
      if (failure) throw failure.error;
    },
    async stop() {
      stopped = true;
      await polling;
    },
  };
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
      // The boot writer: progress bytes on the serial console, and a disk write every second.
      domain = await createTestDomain({
        name: 'downtime',
        diskMiB,
        dataMiB,
        start: true,
        bootWriter: true,
        uri,
      });
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
                `downtime ${r.historyDowntimeMs} ms (history), ${r.observedDowntimeMs} ms (libvirt events), ` +
                `longest guest gap ${r.guest.longestGapMs} ms (serial); wall ${r.wallMs} ms`,
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
              guestGapMs: median(done.map((r) => r.guest.longestGapMs)),
              guestTypicalGapMs: median(done.map((r) => r.guest.typicalGapMs)),
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
  const serial = watchGrowth(domain.consolePath);
  try {
    await delay(LISTENER_SETTLE_MS, undefined, { signal });
    serial.check();
    if (serial.arrivals.length === 0) {
      throw new Error(
        `the guest of ${domain.name} wrote nothing to its serial console (${domain.consolePath}) ` +
          `in ${LISTENER_SETTLE_MS} ms before the snapshot: is it running the boot writer?`,
      );
    }
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
      if (row && row.result !== 'running' && row.result !== 'active') break;
      if (row?.result === 'active' && row.task_state === null) break;
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
    // The gap that spans the end closes with the guest's first mark after it.
    const resumeDeadline = Date.now() + GUEST_RESUME_TIMEOUT_MS;
    while (!serial.arrivals.some((at) => at > endAt)) {
      if (Date.now() > resumeDeadline) {
        throw new Error(
          `the guest of ${domain.name} made no progress (no serial output) in the ` +
            `${GUEST_RESUME_TIMEOUT_MS} ms after snapshot ${imageId} finished`,
        );
      }
      serial.check();
      await delay(20, undefined, { signal });
    }
    await rm(join(service.dataDir, 'images', imageId.toLowerCase()), { force: true });
    const lifecycle = lines.map((l) => l.trim()).filter((l) => l.includes("event 'lifecycle'"));
    return {
      imageId,
      mode: row.mode,
      historyDowntimeMs: row.downtime_ms,
      observedDowntimeMs: downtimeFromLifecycle(lifecycle, endAt),
      lifecycle,
      wallMs: endAt - postAt,
      guest: guestProgress(serial.arrivals, postAt, endAt),
    };
  } finally {
    await serial.stop();
    if (listener.pid !== undefined && listener.exitCode === null) listener.kill('SIGTERM');
    await listener;
  }
}
