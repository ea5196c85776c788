/**
 * Runs the benchmarks and writes their Markdown tables into the docs, so that no figure in
 * the docs is typed in by hand.
 *
 *   npm run bench [-- options]     (= npm run build && node dist/test/bench/run-benchmarks.js)
 *
 * Where the results go (all under docs/, all written by this script only):
 * - benchmarks.results.json: per benchmark, the stamp of the run that measured it (commit,
 *   date, machine, command), its summary rows, its rendered section and its raw result. A run
 *   replaces the entries of the benchmarks it ran and keeps the others as they are.
 * - benchmarks.generated.md: everything rendered from that file: a header with the stamp of
 *   the last run (commit, date, machine), the summary table and one section per benchmark,
 *   each region between `<!-- bench:begin ID -->` and `<!-- bench:end ID -->` markers.
 * - benchmarks.md: its marker regions (summary, event-store, event-store-postgres, snapshot,
 *   history-route, live-downtime, openstack-cli) are replaced by the same regions, verbatim; the prose around
 *   them is left alone. A missing or doubled marker is an error.
 * Everything is formatted with the repository's prettier settings before it is written.
 *
 * Every figure is the median (or, for the event store, the total) of at least MIN_ROUNDS
 * rounds and says how many. `--quick` allows fewer, and then nothing under docs/ is written:
 * the report goes to stdout and a temp file, marked as a quick run.
 *
 * Exit code: 0 when every benchmark ran, 1 when one failed (its section is left as it was;
 * the others are written), 2 on bad options. A benchmark fails on any non-2xx answer and on
 * any snapshot that does not end 'active'. A goal that is missed is reported in the tables,
 * not by the exit code (timings drift on shared machines).
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { execa } from 'execa';
import * as prettier from 'prettier';
import { testVirtType, TEST_LIBVIRT_URI } from '../support/test-domain';
import {
  benchPostgresAppends,
  POSTGRES_BENCH_DEFAULTS,
  RAW_VARIANTS,
  type PostgresAppendsBenchResult,
  type RawVariant,
} from './event-store-postgres.bench';
import {
  benchEventStoreAppends,
  EVENT_STORE_BENCH_ROUNDS,
  type EventStoreBenchResult,
} from './event-store.bench';
import {
  benchHistoryRoute,
  HISTORY_ROUTE_BENCH_DEFAULTS,
  type HistoryRouteBenchResult,
} from './history-route.bench';
import {
  benchLiveDowntime,
  LIVE_DOWNTIME_DEFAULTS,
  type LiveDowntimeBenchResult,
} from './live-downtime.bench';
import {
  benchOpenstackCli,
  OPENSTACK_CLI_BENCH_DEFAULTS,
  type OpenstackCliBenchResult,
} from './openstack-cli.bench';
import { AGENTS_BENCH_DEFAULTS, benchAgents, type AgentsBenchResult } from './agents.bench';
import {
  benchIncremental,
  INCREMENTAL_BENCH_DEFAULTS,
  type IncrementalBenchResult,
} from './incremental.bench';
import { benchReplay, REPLAY_BENCH_DEFAULTS, type ReplayBenchResult } from './replay.bench';
import { LOG_WALK_HEAP_MIB } from '../../src/cli/heap-ceiling';
import {
  benchColdSnapshot,
  median,
  repoRoot,
  saveEqualized,
  SNAPSHOT_BENCH_DEFAULTS,
  SNAPSHOT_STEPS,
  type ColdSnapshotBenchResult,
  type ColdSnapshotRound,
  type SnapshotStepName,
} from './snapshot.bench';

/** Goals (docs/benchmarks.md). */
export const GOALS = {
  /** Snapshot end to end at most this many times the bare command sequence. */
  snapshotMaxRatio: 1.05,
  /** Event store appends at least this fraction of the raw insert loop's rate. */
  appendsMinRatio: 0.5,
  /** The history route at least this fraction of /healthz's requests/s... */
  historyMinRatio: 0.5,
  /** ...with a p99 latency under this many ms. */
  historyMaxP99Ms: 25,
  /** A live snapshot's downtime under this many ms, whatever the disk size... */
  liveMaxDowntimeMs: 100,
  /** ...and its wall time at most this many times the cold path's. */
  liveMaxWallRatio: 1.2,
  /** createImage → active through an API and an agent on PostgreSQL, against all-in-one. */
  agentsMaxLatencyRatio: 1.2,
  /** An incremental backup's layer at most this many times the bytes the guest changed... */
  incrementalMaxStoredRatio: 1.5,
  /** ...its wall time at most this fraction of a full backup's... */
  incrementalMaxWallRatio: 0.2,
  /** ...and the guest never down. */
  incrementalMaxDowntimeMs: 0,
  /** Rebuilding every view from the log: at least this many events/s... */
  replayMinEventsPerSec: 50_000,
  /** ...at least this fraction of a raw INSERT of the same rows... */
  replayMinRatio: 0.3,
  /** ...in at most this much resident memory. */
  replayMaxRssMiB: 300,
} as const;

/** No figure that goes into the docs rests on fewer rounds than this. */
export const MIN_ROUNDS = 5;

export const BENCHMARKS = [
  { id: 'event-store', title: 'Event store appends' },
  { id: 'event-store-postgres', title: 'Event store appends on PostgreSQL' },
  { id: 'snapshot', title: 'Cold snapshot' },
  { id: 'history-route', title: 'Snapshot-history route' },
  { id: 'live-downtime', title: 'Live snapshot downtime' },
  { id: 'openstack-cli', title: '`openstack server image create --wait`' },
  { id: 'agents', title: 'API and agents on PostgreSQL' },
  { id: 'incremental', title: 'Incremental backup' },
  { id: 'replay', title: 'Replay at scale' },
] as const;
export type BenchmarkId = (typeof BENCHMARKS)[number]['id'];
const BENCHMARK_IDS: readonly string[] = BENCHMARKS.map((b) => b.id);

/** The files this script writes, relative to the repository root. */
export const OUTPUT_FILES = {
  docs: 'docs/benchmarks.md',
  generated: 'docs/benchmarks.generated.md',
  results: 'docs/benchmarks.results.json',
} as const;

const DEFAULT_EVENTS = 20_000;

// ---------------------------------------------------------------------------------------------
// The stamp: which code, when, on what

export interface MachineFacts {
  readonly cores: number;
  /** From /proc/cpuinfo ("model name"). */
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly accel: 'KVM' | 'TCG';
  /** `uname -r`. */
  readonly kernel: string;
  readonly qemuImg: string;
  readonly libvirt: string;
  readonly node: string;
}

export interface RunStamp {
  /** `git rev-parse --short HEAD`, with `-dirty` when the tree has changes (not counting OUTPUT_FILES). */
  readonly commit: string;
  /** ISO date at the start of the run. */
  readonly date: string;
  readonly machine: MachineFacts;
  /** The command line, to reproduce the run. */
  readonly command: string;
  readonly quick: boolean;
}

async function firstLineOf(
  command: string,
  args: readonly string[],
  cwd?: string,
): Promise<string> {
  try {
    const { stdout } = await execa(command, args, { timeout: 30_000, stdin: 'ignore', cwd });
    return stdout.split('\n')[0].trim();
  } catch (error) {
    return `unknown (${command}: ${(error as Error).message.split('\n')[0]})`;
  }
}

async function procField(file: string, field: string): Promise<string | undefined> {
  const text = await readFile(file, 'utf8').catch(() => '');
  const line = text.split('\n').find((l) => l.split(':')[0].trim() === field);
  return line?.slice(line.indexOf(':') + 1).trim();
}

export async function machineFacts(uri = TEST_LIBVIRT_URI): Promise<MachineFacts> {
  const nproc = Number(await firstLineOf('nproc', []));
  const memKiB = Number.parseInt((await procField('/proc/meminfo', 'MemTotal')) ?? '', 10);
  const memoryBytes = Number.isFinite(memKiB) ? memKiB * 1024 : totalmem();
  return {
    cores: Number.isInteger(nproc) && nproc > 0 ? nproc : cpus().length,
    cpuModel:
      (await procField('/proc/cpuinfo', 'model name')) ?? cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((memoryBytes / 1024 ** 3) * 10) / 10,
    accel: (await testVirtType(uri)) === 'kvm' ? 'KVM' : 'TCG',
    kernel: release(),
    qemuImg: await firstLineOf('qemu-img', ['--version']),
    libvirt: `virsh ${await firstLineOf('virsh', ['--version'])}`,
    node: process.version,
  };
}

/** The commit of the tree the run measures; `-dirty` when it has changes other than our outputs. */
export async function commitOf(root: string): Promise<string> {
  try {
    const run = (args: string[]) =>
      execa('git', args, { cwd: root, timeout: 30_000, stdin: 'ignore' });
    const head = (await run(['rev-parse', '--short', 'HEAD'])).stdout.trim();
    const excluded = Object.values(OUTPUT_FILES).map((f) => `:(exclude)${f}`);
    const status = (await run(['status', '--porcelain', '--', '.', ...excluded])).stdout;
    return status.trim() === '' ? head : `${head}-dirty`;
  } catch (error) {
    return `unknown (git: ${(error as Error).message.split('\n')[0]})`;
  }
}

// ---------------------------------------------------------------------------------------------
// Markdown pieces

const int = (n: number) => Math.round(n).toLocaleString('en-US');
const ms = (n: number) => `${int(n)} ms`;
const secs = (millis: number) => `${(millis / 1000).toFixed(2)} s`;
const times = (r: number) => `${r.toFixed(2)}×`;
const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const minuteUtc = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const cell = (c: string) => c.replace(/\|/g, '\\|').replace(/\n/g, ' ');
  const line = (cells: readonly string[]) => `| ${cells.map(cell).join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** One row of the summary table, without the stamp column (added when it is rendered). */
export type SummaryRow = readonly [
  benchmark: string,
  snapledger: string,
  baseline: string,
  ratio: string,
  goal: string,
  met: string,
  rounds: string,
];
const SUMMARY_HEADER = [
  'benchmark',
  'snapledger',
  'baseline',
  'ratio',
  'goal',
  'met',
  'rounds',
  'measured at',
];

/** A benchmark's part of the docs, as stored in benchmarks.results.json. */
export interface SectionEntry {
  readonly id: BenchmarkId;
  readonly stamp: RunStamp;
  /** Load average (1/5/15 min) when the benchmark started. */
  readonly loadAverage: string;
  /** How long the benchmark took, s. */
  readonly durationSec: number;
  /** How many rounds its figures took, in words. */
  readonly rounds: string;
  readonly summaryRows: readonly SummaryRow[];
  /** The section's Markdown after the stamp (tables and their notes). */
  readonly body: string;
  readonly result: unknown;
}

interface Rendered {
  readonly rounds: string;
  readonly summaryRows: readonly SummaryRow[];
  readonly body: string;
}

function stampLine(entry: SectionEntry): string {
  const { stamp } = entry;
  const m = stamp.machine;
  return (
    (stamp.quick ? '**Quick run, not for the docs.** ' : '') +
    `Measured at commit \`${stamp.commit}\` on ${minuteUtc(stamp.date)} ` +
    `(\`${stamp.command}\`), ${entry.rounds}, in ${int(entry.durationSec)} s; ` +
    `load average at the start ${entry.loadAverage}. Machine: ${plural(m.cores, 'core')}, ` +
    `${m.cpuModel}, ${m.memoryGiB} GiB, QEMU ${m.accel}, kernel ${m.kernel}; ${m.qemuImg}, ` +
    `${m.libvirt}, node ${m.node}.`
  );
}

/** A section as it appears in the docs: the stamp, then the body. */
function sectionMarkdown(entry: SectionEntry | undefined, id: BenchmarkId): string {
  if (!entry) {
    return `_Not measured yet: \`npm run bench -- --only ${id}\` writes this section._`;
  }
  return `${stampLine(entry)}\n\n${entry.body.trim()}`;
}

function summaryMarkdown(
  entries: ReadonlyMap<BenchmarkId, SectionEntry>,
  measuredOnly: boolean,
): string {
  const rows: string[][] = [];
  for (const { id, title } of BENCHMARKS) {
    const entry = entries.get(id);
    if (!entry) {
      if (!measuredOnly) rows.push([title, '—', '—', '—', '—', 'not measured yet', '—', '—']);
      continue;
    }
    const at = `\`${entry.stamp.commit}\`, ${entry.stamp.date.slice(0, 10)}`;
    for (const row of entry.summaryRows) rows.push([...row, at]);
  }
  return [
    table(SUMMARY_HEADER, rows),
    '',
    'Each row comes from the section of its benchmark below, which gives the machine and the ' +
      'command; "measured at" is the commit and date of the run that measured it.',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Each benchmark's tables

function renderEventStore(r: EventStoreBenchResult): Rendered {
  const met = r.ratio >= GOALS.appendsMinRatio;
  const rounds = plural(r.rounds, 'alternating round');
  return {
    rounds,
    summaryRows: [
      [
        `event store appends (${int(r.events)} events, 1 per transaction)`,
        `${int(r.storeEventsPerSec)} events/s`,
        `${int(r.rawEventsPerSec)} events/s (raw better-sqlite3 INSERT loop)`,
        times(r.ratio),
        `≥ ${times(GOALS.appendsMinRatio)}`,
        met ? 'yes' : 'no',
        rounds,
      ],
    ],
    body: [
      table(
        ['events per side', 'rounds', 'snapledger', 'raw INSERT loop', 'ratio', 'goal', 'met'],
        [
          [
            int(r.events),
            String(r.rounds),
            `${int(r.storeEventsPerSec)} events/s`,
            `${int(r.rawEventsPerSec)} events/s`,
            times(r.ratio),
            `≥ ${times(GOALS.appendsMinRatio)}`,
            met ? 'yes' : 'no',
          ],
        ],
      ),
      '',
      `Ratio per round (snapledger ÷ raw, in the order they ran): ` +
        `${r.roundRatios.map(times).join(', ')}; lowest ${times(Math.min(...r.roundRatios))}, ` +
        `highest ${times(Math.max(...r.roundRatios))}. The headline ratio is total events ÷ ` +
        'total time of each side over all rounds.',
    ].join('\n'),
  };
}

/** What each raw variant adds to the one before it. */
const RAW_VARIANT_LABELS: Readonly<Record<RawVariant, string>> = {
  insert: 'raw loop: BEGIN, INSERT, COMMIT',
  lock: '+ the advisory lock (pg_advisory_xact_lock)',
  head: "+ the head query (the stream's last revision, the last position)",
  notify: '+ the NOTIFY (pg_notify)',
};

function renderReplay(r: ReplayBenchResult): Rendered {
  const rounds = `one run of ${int(r.events)} events`;
  const speedMet = r.rebuildEventsPerSec >= GOALS.replayMinEventsPerSec;
  const ratioMet = r.ratio >= GOALS.replayMinRatio;
  const rssMet = r.rebuildPeakRssMiB <= GOALS.replayMaxRssMiB;
  const perSec = (n: number) => `${int(n)} events/s`;
  return {
    rounds,
    summaryRows: [
      [
        `projections rebuild of ${int(r.events)} events of snapshot traffic`,
        perSec(r.rebuildEventsPerSec),
        `${perSec(r.rawInsertEventsPerSec)} (raw INSERT of the same rows)`,
        times(r.ratio),
        `≥ ${perSec(GOALS.replayMinEventsPerSec)} and ≥ ${times(GOALS.replayMinRatio)}`,
        speedMet && ratioMet ? 'yes' : 'no',
        rounds,
      ],
      [
        'projections rebuild: peak resident memory',
        `${r.rebuildPeakRssMiB.toFixed(0)} MiB`,
        '—',
        '—',
        `≤ ${GOALS.replayMaxRssMiB} MiB`,
        rssMet ? 'yes' : 'no',
        rounds,
      ],
    ],
    body: [
      table(
        ['what', 'events', 'time', 'events/s', 'peak RSS', 'goal', 'met'],
        [
          [
            'raw INSERT of the same rows (baseline)',
            int(r.events),
            secs(r.rawInsertMs),
            perSec(r.rawInsertEventsPerSec),
            '—',
            '—',
            '—',
          ],
          [
            '`snapledger projections rebuild` (replay, as it reports)',
            int(r.events),
            secs(r.rebuildMs),
            perSec(r.rebuildEventsPerSec),
            `${r.rebuildPeakRssMiB.toFixed(0)} MiB`,
            `≥ ${perSec(GOALS.replayMinEventsPerSec)}, ≥ ${times(GOALS.replayMinRatio)} raw, ≤ ${GOALS.replayMaxRssMiB} MiB`,
            [speedMet, ratioMet, rssMet].map((m) => (m ? 'yes' : 'no')).join(', '),
          ],
          [
            '`snapledger projections rebuild` (whole command)',
            int(r.events),
            secs(r.rebuildWallMs),
            perSec(r.events / (r.rebuildWallMs / 1000)),
            `${r.rebuildPeakRssMiB.toFixed(0)} MiB`,
            '—',
            '—',
          ],
          [
            '`snapledger verify` (whole command)',
            int(r.events),
            secs(r.verifyWallMs),
            perSec(r.verifyEventsPerSec),
            `${r.verifyPeakRssMiB.toFixed(0)} MiB`,
            '—',
            r.verifyOk ? 'whole' : 'BROKEN',
          ],
        ],
      ),
      '',
      `The log: ${int(r.snapshots)} snapshots of ${int(r.instances)} instances, ${mib(r.logBytes)} of SQLite. The views after the rebuild: ${Object.entries(
        r.viewRows,
      )
        .map(([table, n]) => `${table} ${int(n)} rows`)
        .join(
          ', ',
        )}. The rebuild printed ${plural(r.rebuildProgressLines, 'progress line')}. Peak RSS is the sum of the peak resident sets (VmHWM, sampled every 100 ms) of the command's process and of the child Node it runs the work in, with a ${LOG_WALK_HEAP_MIB} MiB heap ceiling (src/cli/heap-ceiling.ts).`,
    ].join('\n'),
  };
}

function renderIncremental(r: IncrementalBenchResult): Rendered {
  const rounds = plural(r.rounds.length, 'round');
  const ms = (n: number) => `${int(n)} ms`;
  const mib = (n: number) => `${(n / (1024 * 1024)).toFixed(2)} MiB`;
  const storedMet = r.storedPerChanged <= GOALS.incrementalMaxStoredRatio;
  const wallMet = r.wallRatio <= GOALS.incrementalMaxWallRatio;
  const downMet = r.maxDowntimeMs <= GOALS.incrementalMaxDowntimeMs;
  const what = `${r.diskMiB} MiB disk, ${r.dataMiB} MiB data, ${r.changedMiB} MiB changed, live`;
  return {
    rounds,
    summaryRows: [
      [
        `incremental backup: bytes stored ÷ bytes changed (${what})`,
        mib(median(r.rounds.map((x) => x.bytesStored))),
        `${r.changedMiB} MiB changed`,
        times(r.storedPerChanged),
        `≤ ${times(GOALS.incrementalMaxStoredRatio)}`,
        storedMet ? 'yes' : 'no',
        rounds,
      ],
      [
        `incremental backup: wall time ÷ full backup's (${what})`,
        ms(r.medianIncrementalMs),
        `${ms(r.medianFullMs)} (full backup)`,
        times(r.wallRatio),
        `≤ ${times(GOALS.incrementalMaxWallRatio)}`,
        wallMet ? 'yes' : 'no',
        rounds,
      ],
      [
        `incremental backup: time to its checksums ÷ full backup's (${what}; no goal)`,
        ms(r.medianIncrementalChecksummedMs),
        `${ms(r.medianFullChecksummedMs)} (full backup)`,
        times(r.checksummedRatio),
        '—',
        '—',
        rounds,
      ],
      [
        `libvirt alone: incremental backup job ÷ full (${what}; no goal)`,
        ms(r.medianBareIncrementalMs),
        `${ms(r.medianBareFullMs)} (full job)`,
        times(r.bareWallRatio),
        '—',
        '—',
        rounds,
      ],
      [
        `incremental backup: the guest's downtime (${what})`,
        ms(r.maxDowntimeMs),
        '—',
        '—',
        `${ms(GOALS.incrementalMaxDowntimeMs)}`,
        downMet ? 'yes' : 'no',
        rounds,
      ],
    ],
    body: [
      table(
        [
          'round',
          'full backup',
          'incremental',
          'incremental ÷ full',
          'full hashed at',
          'incremental hashed at',
          'bare qemu-img convert',
          'libvirt alone: full',
          'libvirt alone: incremental',
          'full stored',
          'incremental copied',
          'incremental stored',
          'downtime',
        ],
        r.rounds.map((x, i) => [
          String(i + 1),
          ms(x.fullMs),
          ms(x.incrementalMs),
          times(x.incrementalMs / x.fullMs),
          ms(x.fullChecksummedMs),
          ms(x.incrementalChecksummedMs),
          ms(x.bareConvertMs),
          ms(x.bareFullMs),
          ms(x.bareIncrementalMs),
          mib(x.fullBytesStored),
          mib(x.bytesCopied),
          mib(x.bytesStored),
          ms(x.downtimeMs),
        ]),
      ),
      '',
      "Where the time goes (medians of the history's step times; `extract` is the copy, `upload` the layer's fsync and rename, `checksum` the whole image flattened and hashed after the backup finished):",
      '',
      table(
        ['step', 'full backup', 'incremental'],
        [...new Set(r.rounds.flatMap((x) => Object.keys(x.incrementalSteps)))].map((step) => [
          step,
          ms(median(r.rounds.map((x) => x.fullSteps[step] ?? 0))),
          ms(median(r.rounds.map((x) => x.incrementalSteps[step] ?? 0))),
        ]),
      ),
      '',
      `Medians: full ${ms(r.medianFullMs)}, incremental ${ms(r.medianIncrementalMs)} (**${times(r.wallRatio)}**, goal ≤ ${times(GOALS.incrementalMaxWallRatio)}: ${wallMet ? 'met' : 'not met'}), bare convert of the whole disk ${ms(r.medianBareConvertMs)}; stored ÷ changed **${times(r.storedPerChanged)}** (goal ≤ ${times(GOALS.incrementalMaxStoredRatio)}: ${storedMet ? 'met' : 'not met'}); the longest downtime ${ms(r.maxDowntimeMs)} (goal ${ms(GOALS.incrementalMaxDowntimeMs)}: ${downMet ? 'met' : 'not met'}). Each wall time is the history's requested_at → finished_at, when the backup is active and its task state released; "hashed at" is requested_at → the end of its checksum step, when its size and checksums are recorded: full ${ms(r.medianFullChecksummedMs)}, incremental ${ms(r.medianIncrementalChecksummedMs)} (${times(r.checksummedRatio)}). libvirt alone (qemu-img create, virsh backup-begin with a checkpoint, virsh domjobinfo until the job ended) took ${ms(r.medianBareFullMs)} for the full job and ${ms(r.medianBareIncrementalMs)} for the incremental one (${times(r.bareWallRatio)}); snapledger's incremental is ${times(r.medianIncrementalMs / r.medianBareIncrementalMs)} that bare job, and libvirt's bare incremental alone is ${times(r.medianBareIncrementalMs / r.medianFullMs)} snapledger's full backup.`,
    ].join('\n'),
  };
}

function renderAgents(r: AgentsBenchResult): Rendered {
  const rounds = plural(r.rounds, 'alternating round');
  const ms = (n: number) => `${int(n)} ms`;
  const met = r.latencyRatio <= GOALS.agentsMaxLatencyRatio;
  const hosts = Object.entries(r.concurrentByHost)
    .map(([host, n]) => `${n} on ${host}`)
    .join(', ');
  return {
    rounds,
    summaryRows: [
      [
        `createImage → active, API + agent on PostgreSQL (${r.diskMiB} MiB disk, ${r.dataMiB} MiB data, live)`,
        ms(r.apiAgentMedianMs),
        `${ms(r.allInOneMedianMs)} (all-in-one on SQLite)`,
        times(r.latencyRatio),
        `≤ ${times(GOALS.agentsMaxLatencyRatio)}`,
        met ? 'yes' : 'no',
        rounds,
      ],
      [
        `${r.concurrent} snapshots at once across 2 agents (shut off, ${hosts})`,
        ms(r.concurrentWallMs),
        `${ms(r.bareWallMs)} (bare qemu-img convert, ${2 * r.perAgent} at a time)`,
        times(r.throughputRatio),
        '—',
        '—',
        '1 run',
      ],
    ],
    body: [
      table(
        ['round', 'all-in-one (SQLite)', 'API + agent (PostgreSQL)', 'ratio'],
        r.allInOneMs.map((a, i) => [
          String(i + 1),
          ms(a),
          ms(r.apiAgentMs[i] ?? Number.NaN),
          times((r.apiAgentMs[i] ?? Number.NaN) / a),
        ]),
      ),
      '',
      `Medians: all-in-one ${ms(r.allInOneMedianMs)}, API + agent ${ms(r.apiAgentMedianMs)}, ratio **${times(r.latencyRatio)}** (goal ≤ ${times(GOALS.agentsMaxLatencyRatio)}: ${met ? 'met' : 'not met'}). Each time is the POST → the history's finished_at; one warm-up round of each side is left out.`,
      '',
      table(
        [
          'snapshots',
          'first POST → last finished',
          'each, median',
          'each, slowest',
          'bare convert, same disks',
          'bare ÷ snapledger',
        ],
        [
          [
            `${r.concurrent} (${hosts})`,
            ms(r.concurrentWallMs),
            ms(median(r.concurrentEachMs)),
            ms(Math.max(...r.concurrentEachMs)),
            ms(r.bareWallMs),
            times(r.throughputRatio),
          ],
        ],
      ),
    ].join('\n'),
  };
}

function renderPostgresAppends(r: PostgresAppendsBenchResult): Rendered {
  const met = r.ratio >= GOALS.appendsMinRatio;
  const rounds = plural(r.rounds, 'alternating round');
  const goal = `≥ ${times(GOALS.appendsMinRatio)}`;
  const perSec = (n: number) => `${int(n)} events/s`;
  const latency = (n: number) => `${n.toFixed(2)} ms`;
  const us = (n: number) => `${n >= 0 ? '+' : '−'}${int(Math.abs(n))} µs`;
  const ladder: { label: string; side: PostgresAppendsBenchResult['store'] }[] = [
    ...RAW_VARIANTS.map((v) => ({ label: RAW_VARIANT_LABELS[v], side: r.variants[v] })),
    {
      label: 'PostgresEventStore.append: all of the above in one server-side call',
      side: r.store,
    },
  ];
  const server = r.server;
  return {
    rounds,
    summaryRows: [
      [
        `event store appends on PostgreSQL (${int(r.events)} events, 1 per transaction, fsync on)`,
        perSec(r.store.eventsPerSec),
        `${perSec(r.raw.eventsPerSec)} (raw pg INSERT loop, one transaction each)`,
        times(r.ratio),
        goal,
        met ? 'yes' : 'no',
        rounds,
      ],
      [
        'PostgreSQL append latency, one event (median)',
        latency(r.store.medianMs),
        `${latency(r.raw.medianMs)} (raw BEGIN, INSERT, COMMIT)`,
        times(r.store.medianMs / r.raw.medianMs),
        '—',
        '—',
        rounds,
      ],
    ],
    body: [
      `Server: PostgreSQL ${server.server_version}, fsync=${server.fsync}, ` +
        `synchronous_commit=${server.synchronous_commit}, ` +
        `full_page_writes=${server.full_page_writes}, wal_sync_method=${server.wal_sync_method}.`,
      '',
      table(
        [
          'events per side',
          'rounds',
          'snapledger',
          'raw INSERT loop',
          'ratio',
          'goal',
          'met',
          'median append, snapledger',
          'median append, raw',
        ],
        [
          [
            int(r.events),
            String(r.rounds),
            perSec(r.store.eventsPerSec),
            perSec(r.raw.eventsPerSec),
            times(r.ratio),
            goal,
            met ? 'yes' : 'no',
            latency(r.store.medianMs),
            latency(r.raw.medianMs),
          ],
        ],
      ),
      '',
      `Ratio per round (snapledger ÷ raw, in the order they ran): ` +
        `${r.roundRatios.map(times).join(', ')}; lowest ${times(Math.min(...r.roundRatios))}, ` +
        `highest ${times(Math.max(...r.roundRatios))}. The headline ratio is total events ÷ ` +
        'total time of each side over all rounds.',
      '',
      'What each part of an append costs: the raw loop with the parts of the store added one ' +
        'at a time, measured in the same rounds (each row adds to the row above).',
      '',
      table(
        ['per event, one committed transaction', 'events/s', 'median', 'ratio to raw', 'added'],
        ladder.map(({ label, side }, i) => [
          label,
          perSec(side.eventsPerSec),
          latency(side.medianMs),
          times(side.eventsPerSec / r.raw.eventsPerSec),
          i === 0 ? '—' : us((side.medianMs - ladder[i - 1].side.medianMs) * 1000),
        ]),
      ),
      '',
      '"added" is the median time of one append minus that of the row above: medians, because ' +
        'a few slow fsyncs move a mean (and events/s) more than what a part costs.',
    ].join('\n'),
  };
}

/** What each part of the breakdown is, and its counterpart in the bare sequence. */
const STEP_ROWS: readonly {
  step: SnapshotStepName;
  label: string;
  bare?: 'managedsaveMs' | 'convertMs' | 'startMs';
}[] = [
  { step: 'begin', label: 'begin (saga picks the request up; task_state → image_snapshot)' },
  { step: 'plan', label: 'plan (virsh dumpxml + dominfo, qemu-img info -U)' },
  { step: 'save', label: 'save (virsh managedsave)', bare: 'managedsaveMs' },
  { step: 'extract', label: 'extract (qemu-img convert -p, fsync, rename)', bare: 'convertMs' },
  { step: 'restore', label: 'restore (virsh start)', bare: 'startMs' },
  { step: 'upload', label: 'upload (md5 + sha512 of the image, rename into the store)' },
];

function renderSnapshot(snapshot: ColdSnapshotBenchResult): Rendered {
  const m = snapshot.median;
  const met = snapshot.ratio <= GOALS.snapshotMaxRatio;
  const over = ((snapshot.ratio / GOALS.snapshotMaxRatio - 1) * 100).toFixed(0);
  const goalMs = m.bareMs * GOALS.snapshotMaxRatio;
  const rounds =
    `median of ${plural(snapshot.rounds, 'round')} ` +
    `(+${plural(snapshot.warmupRounds, 'warm-up round')}, not counted)`;
  const roundsCell = `${snapshot.rounds} (+${snapshot.warmupRounds} warm-up)`;
  const summaryRows: SummaryRow[] = [
    [
      `cold snapshot, running domain, ${snapshot.diskMiB} MiB qcow2 with ${snapshot.dataMiB} MiB data ` +
        `(median; POST → finished_at)`,
      ms(m.snapledgerMs),
      `${ms(m.bareMs)} (virsh managedsave + qemu-img convert + virsh start)`,
      times(snapshot.ratio),
      `≤ ${times(GOALS.snapshotMaxRatio)}`,
      met ? 'yes' : `no: ${ms(m.snapledgerMs - goalMs)} (${over} %) over the goal of ${ms(goalMs)}`,
      roundsCell,
    ],
    [
      'cold snapshot, same, with the managedsave time equalized per round (median of paired ratios)',
      '—',
      '—',
      times(snapshot.saveEqualizedRatio),
      `≤ ${times(GOALS.snapshotMaxRatio)}`,
      snapshot.saveEqualizedRatio <= GOALS.snapshotMaxRatio ? 'yes' : 'no',
      roundsCell,
    ],
    [
      'cold snapshot, domain downtime (median)',
      ms(m.snapledgerDowntimeMs),
      `${ms(m.bareDowntimeMs)} (managedsave start → start finished)`,
      times(snapshot.downtimeRatio),
      '—',
      '—',
      roundsCell,
    ],
  ];

  const out: string[] = [];
  const label = (r: ColdSnapshotRound) =>
    r.round > 0 ? String(r.round) : `warm-up ${r.round + snapshot.warmupRounds + 1} (not counted)`;
  const all = [...snapshot.warmups, ...snapshot.perRound];
  out.push(
    `#### Per round (QEMU ${snapshot.virtType === 'kvm' ? 'KVM' : 'TCG'}; ` +
      `${plural(snapshot.warmupRounds, 'warm-up round')}, ${snapshot.rounds} measured)`,
    '',
    table(
      [
        'round',
        'first',
        'snapledger POST → finished_at',
        'history duration_ms',
        'polled wall (100 ms)',
        'downtime_ms',
        'bare total',
        'managedsave',
        'convert',
        'start',
        'ratio',
        'ratio, save equalized',
      ],
      [
        ...all.map((r) => [
          label(r),
          r.first,
          ms(r.snapledger.totalMs),
          ms(r.snapledger.historyMs),
          ms(r.snapledger.polledMs),
          ms(r.snapledger.downtimeMs),
          ms(r.bare.totalMs),
          ms(r.bare.managedsaveMs),
          ms(r.bare.convertMs),
          ms(r.bare.startMs),
          times(r.snapledger.totalMs / r.bare.totalMs),
          times(saveEqualized(r)),
        ]),
        [
          '**median**',
          '',
          `**${ms(m.snapledgerMs)}**`,
          ms(m.snapledgerHistoryMs),
          ms(m.snapledgerPolledMs),
          ms(m.snapledgerDowntimeMs),
          `**${ms(m.bareMs)}**`,
          ms(m.bareSteps.managedsaveMs),
          ms(m.bareSteps.convertMs),
          ms(m.bareSteps.startMs),
          `**${times(snapshot.ratio)}**`,
          `**${times(snapshot.saveEqualizedRatio)}**`,
        ],
      ],
    ),
    '',
    `Image sizes (median): snapledger ${mib(m.snapledgerImageBytes)}, bare ${mib(m.bareImageBytes)}. ` +
      `POST → 202 answer: ${ms(m.snapledgerPostMs)}. Ratio without the API's part ` +
      `(history duration_ms / bare): ${times(snapshot.historyRatio)}.`,
    '',
  );

  const t = m.snapledgerTimes;
  const stepRows = STEP_ROWS.map(({ step, label: what, bare }) => {
    const s = t.steps[step];
    const counterpart = bare === undefined ? undefined : m.bareSteps[bare];
    return [
      what,
      ms(s.durationMs),
      ms(s.segmentMs),
      counterpart === undefined ? '—' : ms(counterpart),
      ms(s.segmentMs - (counterpart ?? 0)),
    ];
  });
  const partsSum =
    t.apiMs + t.finishMs + SNAPSHOT_STEPS.reduce((sum, s) => sum + t.steps[s].segmentMs, 0);
  const bareSum = m.bareSteps.managedsaveMs + m.bareSteps.convertMs + m.bareSteps.startMs;
  out.push(
    '#### Where snapledger spends its time (medians per part)',
    '',
    table(
      ['part', 'step duration (history)', 'wall segment', 'bare counterpart', 'snapledger extra'],
      [
        ['API: POST → ImageReserved (requested_at)', '—', ms(t.apiMs), '—', ms(t.apiMs)],
        ...stepRows,
        ['finish (task_state → None)', '—', ms(t.finishMs), '—', ms(t.finishMs)],
        [
          '**sum of the parts**',
          '',
          `**${ms(partsSum)}**`,
          `**${ms(bareSum)}**`,
          `**${ms(partsSum - bareSum)}**`,
        ],
      ],
    ),
    '',
    '#### Wall segments per round',
    '',
    table(
      ['round', 'api', ...SNAPSHOT_STEPS, 'finish', 'total'],
      all.map((r) => {
        const x = r.snapledger.times;
        return [
          label(r),
          ms(x.apiMs),
          ...SNAPSHOT_STEPS.map((s) => ms(x.steps[s].segmentMs)),
          ms(x.finishMs),
          ms(r.snapledger.totalMs),
        ];
      }),
    ),
  );
  return { rounds, summaryRows, body: out.join('\n') };
}

function renderHistoryRoute(h: HistoryRouteBenchResult): Rendered {
  const met = h.ratio >= GOALS.historyMinRatio && h.history.p99Ms < GOALS.historyMaxP99Ms;
  const rounds =
    `median of ${plural(h.rounds, 'alternating round')} of ${h.durationSec} s per route ` +
    `(+${h.warmupSec} s warm-up each)`;
  const summaryRows: SummaryRow[] = [
    [
      `GET /v1/instances/{id}/snapshots, ${int(h.snapshots)} snapshots in the history ` +
        `(default page: ${h.pageRows} rows, ${int(h.history.bodyBytes)} bytes), ` +
        `${h.connections} connections; non-2xx answers: ${h.history.non2xx + h.health.non2xx}`,
      `${int(h.history.requestsPerSec)} req/s, p99 ${ms(h.history.p99Ms)}`,
      `${int(h.health.requestsPerSec)} req/s, p99 ${ms(h.health.p99Ms)} (GET /healthz, same service)`,
      times(h.ratio),
      `≥ ${times(GOALS.historyMinRatio)}, p99 < ${ms(GOALS.historyMaxP99Ms)}`,
      met ? 'yes' : 'no',
      `${h.rounds} × ${h.durationSec} s`,
    ],
  ];
  const route = (path: string) => (path === '/healthz' ? '/healthz' : 'history');
  const body = [
    table(
      ['round', 'route', 'req/s', 'p50', 'p99', 'requests', 'non-2xx', 'errors + timeouts'],
      [
        ...h.runs.map((r) => [
          r.round === 0 ? 'warm-up (not counted)' : String(r.round),
          route(r.path),
          int(r.requestsPerSec),
          ms(r.p50Ms),
          ms(r.p99Ms),
          int(r.requests),
          String(r.non2xx),
          String(r.errors),
        ]),
        ...[h.history, h.health].map((r) => [
          '**median**',
          route(r.path),
          `**${int(r.requestsPerSec)}**`,
          ms(r.p50Ms),
          `**${ms(r.p99Ms)}**`,
          `${int(r.requests)} (sum)`,
          `${r.non2xx} (sum)`,
          `${r.errors} (sum)`,
        ]),
      ],
    ),
    '',
    'Any non-2xx answer, connection error or timeout, in a warm-up or a measured round, fails ' +
      'the benchmark: the counts above are what a passing run saw.',
  ].join('\n');
  return { rounds, summaryRows, body };
}

function renderLiveDowntime(live: LiveDowntimeBenchResult, roundsPerPath: number): Rendered {
  const rounds = `median of ${plural(roundsPerPath, 'round')} per data size and path`;
  const summaryRows: SummaryRow[] = [];
  for (const c of live.cases) {
    const fellBack = c.liveFellBack
      ? ` (ran as ${c.live.modes.join('/')}: live path not taken)`
      : '';
    const down = c.live.median.observedDowntimeMs;
    const roundsCell = `${c.live.rounds.length} per path`;
    summaryRows.push(
      [
        `live snapshot downtime, running domain, ${c.dataMiB} MiB of data${fellBack}`,
        `${ms(down)} (libvirt events), ${ms(c.live.median.historyDowntimeMs)} (history)`,
        `${ms(c.cold.median.observedDowntimeMs)} (cold, SNAPLEDGER_LIVE_SNAPSHOT=off)`,
        times(c.downtimeRatio),
        `< ${ms(GOALS.liveMaxDowntimeMs)}`,
        !c.liveFellBack && down < GOALS.liveMaxDowntimeMs ? 'yes' : 'no',
        roundsCell,
      ],
      [
        `live snapshot, longest pause of the guest's own progress (serial console, host clock), ` +
          `${c.dataMiB} MiB of data${fellBack}`,
        `${ms(c.live.median.guestGapMs)} (normal pace: ${ms(c.live.median.guestTypicalGapMs)})`,
        `${ms(c.cold.median.guestGapMs)} (cold)`,
        times(c.live.median.guestGapMs / Math.max(1, c.cold.median.guestGapMs)),
        '—',
        '—',
        roundsCell,
      ],
      [
        `live snapshot wall time (POST → finished_at), ${c.dataMiB} MiB of data${fellBack}`,
        ms(c.live.median.wallMs),
        `${ms(c.cold.median.wallMs)} (cold)`,
        times(c.wallRatio),
        `≤ ${times(GOALS.liveMaxWallRatio)}`,
        !c.liveFellBack && c.wallRatio <= GOALS.liveMaxWallRatio ? 'yes' : 'no',
        roundsCell,
      ],
    );
  }
  const body = [
    `#### Live against cold snapshot, per round (QEMU ${live.virtType === 'kvm' ? 'KVM' : 'TCG'})`,
    '',
    table(
      [
        'data',
        'requested',
        'round',
        'ran as',
        'downtime_ms (history)',
        'downtime (libvirt events)',
        'longest guest gap (serial)',
        'normal guest pace',
        'wall',
        'lifecycle events',
      ],
      live.cases.flatMap((c) =>
        [c.cold, c.live].flatMap((p) => [
          ...p.rounds.map((r, i) => [
            `${c.dataMiB} MiB`,
            p.requested,
            String(i + 1),
            r.mode ?? '?',
            r.historyDowntimeMs === null ? '—' : ms(r.historyDowntimeMs),
            ms(r.observedDowntimeMs),
            ms(r.guest.longestGapMs),
            ms(r.guest.typicalGapMs),
            ms(r.wallMs),
            r.lifecycle.map((l) => l.replace(/^.*: /, '')).join(', ') || 'none',
          ]),
          [
            `${c.dataMiB} MiB`,
            p.requested,
            '**median**',
            '',
            ms(p.median.historyDowntimeMs),
            `**${ms(p.median.observedDowntimeMs)}**`,
            `**${ms(p.median.guestGapMs)}**`,
            ms(p.median.guestTypicalGapMs),
            `**${ms(p.median.wallMs)}**`,
            '',
          ],
        ]),
      ),
    ),
    '',
    "Three views of the downtime: the history's downtime_ms (what snapledger records), the " +
      'time libvirt reported the domain suspended or stopped (`virsh event --loop --timestamp`), ' +
      "and the longest time between two arrivals of the guest's serial output around the " +
      'snapshot, stamped with the host clock ("longest guest gap"). The guest writes one byte ' +
      'per BIOS timer tick, so that gap is never below its normal pace (the median time ' +
      'between arrivals); a pause adds to it.',
  ].join('\n');
  return { rounds, summaryRows, body };
}

function renderOpenstackCli(o: OpenstackCliBenchResult): Rendered {
  const n = o.cases[0]?.rounds.length ?? 0;
  const rounds = `median of ${plural(n, 'round')} per power state`;
  const summaryRows: SummaryRow[] = o.cases.map((c) => [
    `\`openstack server image create --wait\`, ${c.mode} domain ` +
      `(${o.diskMiB} MiB qcow2, ${o.dataMiB} MiB of data)`,
    secs(c.median.oscMs),
    `${secs(c.median.curlMs)} (curl sequence: POST, then GET the image every 0.2 s)`,
    times(c.ratio),
    '—',
    '—',
    `${c.rounds.length}`,
  ]);
  const body = [
    `Client: ${o.oscVersion}.`,
    '',
    table(
      [
        'domain',
        'round',
        '`openstack … --wait`',
        'curl sequence',
        'ratio',
        '`openstack server list` (client start-up)',
        'snapshot mode (history)',
      ],
      o.cases.flatMap((c) => [
        ...c.rounds.map((r, i) => [
          c.mode,
          String(i + 1),
          secs(r.oscMs),
          secs(r.curlMs),
          times(r.oscMs / r.curlMs),
          secs(r.listMs),
          r.snapshotModes.join(', '),
        ]),
        [
          c.mode,
          '**median**',
          `**${secs(c.median.oscMs)}**`,
          `**${secs(c.median.curlMs)}**`,
          `**${times(c.ratio)}**`,
          secs(c.median.listMs),
          '',
        ],
      ]),
    ),
  ].join('\n');
  return { rounds, summaryRows, body };
}

// ---------------------------------------------------------------------------------------------
// Documents

const begin = (id: string) => `<!-- bench:begin ${id} -->`;
const end = (id: string) => `<!-- bench:end ${id} -->`;
const MARKER = /<!-- bench:(begin|end) ([a-z0-9-]+) -->/g;

/**
 * Each region's content, by id: the generated Markdown of the docs. `measuredOnly` leaves out
 * the benchmarks without an entry (a run's own report) instead of marking them not measured.
 */
function regionsOf(
  entries: ReadonlyMap<BenchmarkId, SectionEntry>,
  measuredOnly = false,
): Map<string, string> {
  const regions = new Map<string, string>([['summary', summaryMarkdown(entries, measuredOnly)]]);
  for (const { id } of BENCHMARKS) {
    if (!measuredOnly || entries.has(id)) regions.set(id, sectionMarkdown(entries.get(id), id));
  }
  return regions;
}

/** The regions between the markers of a document; throws on unpaired or doubled markers. */
export function extractRegions(doc: string, file: string): Map<string, string> {
  const regions = new Map<string, string>();
  let open: { id: string; from: number } | undefined;
  for (const m of doc.matchAll(MARKER)) {
    const [marker, kind, id] = m;
    const at = m.index ?? 0;
    if (kind === 'begin') {
      if (open) throw new Error(`${file}: ${marker} inside region ${open.id}`);
      if (regions.has(id)) throw new Error(`${file}: region ${id} appears twice`);
      open = { id, from: at + marker.length };
    } else {
      if (open?.id !== id) throw new Error(`${file}: ${marker} without ${begin(id)}`);
      regions.set(id, doc.slice(open.from, at).trim());
      open = undefined;
    }
  }
  if (open) throw new Error(`${file}: ${begin(open.id)} without ${end(open.id)}`);
  return regions;
}

/** Replaces every region's content; each region in `regions` must be there exactly once, no other. */
export function spliceRegions(
  doc: string,
  regions: ReadonlyMap<string, string>,
  file: string,
): string {
  const present = extractRegions(doc, file);
  for (const id of present.keys())
    if (!regions.has(id)) throw new Error(`${file}: unknown region ${begin(id)}`);
  let out = doc;
  for (const [id, content] of regions) {
    if (!present.has(id)) throw new Error(`${file}: ${begin(id)} … ${end(id)} is missing`);
    const from = out.indexOf(begin(id)) + begin(id).length;
    const to = out.indexOf(end(id));
    out = `${out.slice(0, from)}\n\n${content.trim()}\n\n${out.slice(to)}`;
  }
  return out;
}

/**
 * A whole document: 'docs' is benchmarks.generated.md (every benchmark); 'report' and 'quick'
 * are what a run prints (its own benchmarks only).
 */
function generatedDocument(
  kind: 'docs' | 'report' | 'quick',
  last: RunStamp | undefined,
  regions: ReadonlyMap<string, string>,
): string {
  const intro = {
    docs:
      'Generated by `npm run bench` (`test/bench/run-benchmarks.ts`) from ' +
      `\`${OUTPUT_FILES.results}\`: do not edit. \`${OUTPUT_FILES.docs}\` includes the ` +
      'regions between the `bench:begin` and `bench:end` markers verbatim. Each section ' +
      'carries the stamp of the run that measured it: a run with `--only` replaces only its ' +
      "own sections and keeps the others' stamps.",
    report:
      `The benchmarks of this run, as written into \`${OUTPUT_FILES.generated}\` and ` +
      `\`${OUTPUT_FILES.docs}\`.`,
    quick:
      'A quick run (`--quick`): it may have fewer rounds than the docs accept, and nothing ' +
      'under `docs/` was written. Do not quote these figures.',
  }[kind];
  const out = [
    kind === 'quick' ? '# Benchmark results: QUICK RUN, not for the docs' : '# Benchmark results',
    '',
    intro,
    '',
    ...(last === undefined
      ? ['No benchmark has been measured yet.']
      : [
          `${kind === 'docs' ? 'Last measuring run' : 'This run'}: commit \`${last.commit}\`, ` +
            `started ${minuteUtc(last.date)}, \`${last.command}\`.`,
          '',
          table(
            ['machine', ''],
            [
              ['cores', String(last.machine.cores)],
              ['CPU', last.machine.cpuModel],
              ['memory', `${last.machine.memoryGiB} GiB`],
              ['QEMU acceleration', last.machine.accel],
              ['kernel', last.machine.kernel],
              ['qemu-img', last.machine.qemuImg],
              ['libvirt', last.machine.libvirt],
              ['node', last.machine.node],
            ],
          ),
        ]),
    '',
    '## Summary',
    '',
    begin('summary'),
    '',
    regions.get('summary') ?? '',
    '',
    end('summary'),
  ];
  for (const { id, title } of BENCHMARKS) {
    if (!regions.has(id)) continue;
    out.push('', `## ${title}`, '', begin(id), '', regions.get(id) ?? '', '', end(id));
  }
  return `${out.join('\n')}\n`;
}

async function formatMarkdown(text: string, file: string): Promise<string> {
  const config = (await prettier.resolveConfig(file)) ?? {};
  return prettier.format(text, { ...config, filepath: file, parser: 'markdown' });
}

async function writeAtomically(file: string, text: string): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  await writeFile(temp, text);
  await rename(temp, file);
}

interface ResultsFile {
  readonly note: string;
  /** The stamp of the last run that measured something. */
  readonly lastRun?: RunStamp;
  readonly sections: Partial<Record<BenchmarkId, SectionEntry>>;
}

async function readResults(
  file: string,
): Promise<{ lastRun?: RunStamp; entries: Map<BenchmarkId, SectionEntry> }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { entries: new Map() };
    throw error;
  }
  const parsed = JSON.parse(text) as ResultsFile;
  const entries = new Map<BenchmarkId, SectionEntry>();
  for (const [id, entry] of Object.entries(parsed.sections ?? {})) {
    if (!BENCHMARK_IDS.includes(id) || !entry || entry.id !== id)
      throw new Error(`${file}: unexpected section ${id}`);
    entries.set(id as BenchmarkId, entry);
  }
  return { lastRun: parsed.lastRun, entries };
}

/**
 * Merges `fresh` (measured by the run stamped `stamp`) into the stored results and rewrites
 * the results, the generated file and the regions of docs/benchmarks.md. With nothing fresh
 * it only re-renders (`--render`). Returns the files written.
 */
export async function writeDocs(
  root: string,
  fresh: readonly SectionEntry[],
  stamp: RunStamp,
): Promise<string[]> {
  const files = {
    docs: join(root, OUTPUT_FILES.docs),
    generated: join(root, OUTPUT_FILES.generated),
    results: join(root, OUTPUT_FILES.results),
  };
  const stored = await readResults(files.results);
  const { entries } = stored;
  for (const entry of fresh) entries.set(entry.id, entry);
  const last = fresh.length > 0 ? stamp : stored.lastRun;

  // Format each region alone, then the documents; the regions must come out the same.
  const regions = new Map<string, string>();
  for (const [id, content] of regionsOf(entries))
    regions.set(id, (await formatMarkdown(content, files.generated)).trim());
  const generated = await formatMarkdown(generatedDocument('docs', last, regions), files.generated);
  const docs = await formatMarkdown(
    spliceRegions(await readFile(files.docs, 'utf8'), regions, OUTPUT_FILES.docs),
    files.docs,
  );
  for (const [name, doc] of [
    [OUTPUT_FILES.generated, generated],
    [OUTPUT_FILES.docs, docs],
  ] as const) {
    const got = extractRegions(doc, name);
    for (const [id, content] of regions) {
      if (got.get(id) !== content)
        throw new Error(`${name}: region ${id} changed when the document was formatted`);
    }
  }

  const sections: Partial<Record<BenchmarkId, SectionEntry>> = {};
  for (const { id } of BENCHMARKS) {
    const entry = entries.get(id);
    if (entry) sections[id] = entry;
  }
  const results: ResultsFile = {
    note: `Written by test/bench/run-benchmarks.ts (npm run bench): do not edit. ${OUTPUT_FILES.generated} and ${OUTPUT_FILES.docs} are rendered from it.`,
    lastRun: last,
    sections,
  };
  const json = await prettier.format(JSON.stringify(results), {
    ...((await prettier.resolveConfig(files.results)) ?? {}),
    parser: 'json',
  });
  await writeAtomically(files.results, json);
  await writeAtomically(files.generated, generated);
  await writeAtomically(files.docs, docs);
  return Object.values(OUTPUT_FILES);
}

// ---------------------------------------------------------------------------------------------
// Entry point

interface Settings {
  only: readonly BenchmarkId[];
  quick: boolean;
  renderOnly: boolean;
  events: number;
  eventRounds: number;
  pgEvents: number;
  pgRounds: number;
  rounds: number;
  warmupRounds: number;
  port: number;
  diskMiB: number;
  dataMiB: number;
  historyRounds: number;
  historySnapshots: number;
  historySeconds: number;
  downtimeRounds: number;
  downtimeDataMiBs: number[];
  oscRounds: number;
  agentsRounds: number;
  agentsConcurrent: number;
  incrementalRounds: number;
  replayEvents: number;
}

function integer(value: string | undefined, name: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min)
    throw new RangeError(`--${name} must be an integer >= ${min}`);
  return n;
}

export function parseSettings(argv: readonly string[]): Settings {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      only: { type: 'string' },
      quick: { type: 'boolean' },
      render: { type: 'boolean' },
      events: { type: 'string' },
      'pg-events': { type: 'string' },
      rounds: { type: 'string' },
      warmup: { type: 'string' },
      port: { type: 'string' },
      'disk-mib': { type: 'string' },
      'data-mib': { type: 'string' },
      'history-snapshots': { type: 'string' },
      'history-seconds': { type: 'string' },
      'downtime-rounds': { type: 'string' },
      'downtime-data-mib': { type: 'string' },
      'agents-concurrent': { type: 'string' },
      'replay-events': { type: 'string' },
    },
    strict: true,
    allowPositionals: false,
  });
  const only = (values.only?.split(',') ?? BENCHMARK_IDS).map((s) => s.trim());
  for (const id of only) {
    if (!BENCHMARK_IDS.includes(id))
      throw new RangeError(`--only takes a comma-separated list of ${BENCHMARK_IDS.join(', ')}`);
  }
  const quick = values.quick === true;
  // --rounds sets every benchmark's measured rounds; --downtime-rounds only the live downtime's.
  const rounds = (fallback: number, name = 'rounds', value = values.rounds) => {
    const n = integer(value, name, fallback);
    if (n < MIN_ROUNDS && !quick) {
      throw new RangeError(
        `--${name} ${n}: the docs take no figure from fewer than ${MIN_ROUNDS} rounds. ` +
          'Add --quick for a trial run (printed and written to a temp file, not to docs/).',
      );
    }
    return n;
  };
  const d = SNAPSHOT_BENCH_DEFAULTS;
  const events = integer(values.events, 'events', DEFAULT_EVENTS);
  const settings: Settings = {
    only: only as BenchmarkId[],
    quick,
    renderOnly: values.render === true,
    events,
    eventRounds: rounds(EVENT_STORE_BENCH_ROUNDS),
    pgEvents: integer(values['pg-events'], 'pg-events', POSTGRES_BENCH_DEFAULTS.events),
    pgRounds: rounds(POSTGRES_BENCH_DEFAULTS.rounds),
    rounds: rounds(d.rounds),
    warmupRounds: integer(values.warmup, 'warmup', d.warmupRounds, 0),
    port: integer(values.port, 'port', d.port),
    diskMiB: integer(values['disk-mib'], 'disk-mib', d.diskMiB),
    dataMiB: integer(values['data-mib'], 'data-mib', d.dataMiB),
    historyRounds: rounds(HISTORY_ROUTE_BENCH_DEFAULTS.rounds),
    historySnapshots: integer(
      values['history-snapshots'],
      'history-snapshots',
      HISTORY_ROUTE_BENCH_DEFAULTS.snapshots,
    ),
    historySeconds: integer(
      values['history-seconds'],
      'history-seconds',
      HISTORY_ROUTE_BENCH_DEFAULTS.durationSec,
    ),
    downtimeRounds: rounds(
      integer(values.rounds, 'rounds', LIVE_DOWNTIME_DEFAULTS.rounds),
      'downtime-rounds',
      values['downtime-rounds'],
    ),
    downtimeDataMiBs: (values['downtime-data-mib']?.split(',') ?? LIVE_DOWNTIME_DEFAULTS.dataMiBs)
      .map(String)
      .map((v) => integer(v.trim(), 'downtime-data-mib', 0)),
    oscRounds: rounds(OPENSTACK_CLI_BENCH_DEFAULTS.rounds),
    agentsRounds: rounds(AGENTS_BENCH_DEFAULTS.rounds),
    incrementalRounds: rounds(INCREMENTAL_BENCH_DEFAULTS.rounds),
    replayEvents: integer(
      values['replay-events'],
      'replay-events',
      REPLAY_BENCH_DEFAULTS.events,
      1000,
    ),
    agentsConcurrent: integer(
      values['agents-concurrent'],
      'agents-concurrent',
      AGENTS_BENCH_DEFAULTS.concurrent,
      2,
    ),
  };
  if (settings.eventRounds > settings.events)
    throw new RangeError('--rounds must not exceed --events (the event store splits its events)');
  if (settings.pgRounds > settings.pgEvents)
    throw new RangeError('--rounds must not exceed --pg-events (the PostgreSQL store splits them)');
  if (settings.renderOnly && (values.only !== undefined || quick))
    throw new RangeError('--render runs no benchmark: it takes no --only or --quick');
  return settings;
}

export async function main(argv: readonly string[] = process.argv.slice(2)): Promise<number> {
  const t0 = Date.now();
  const progress = (line: string) =>
    process.stderr.write(`[bench +${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}\n`);
  let settings: Settings;
  try {
    settings = parseSettings(argv);
  } catch (error) {
    process.stderr.write(`run-benchmarks: ${(error as Error).message}\n`);
    return 2;
  }
  const root = repoRoot();
  const stamp: RunStamp = {
    commit: await commitOf(root),
    date: new Date().toISOString(),
    machine: await machineFacts(),
    command: ['node dist/test/bench/run-benchmarks.js', ...argv].join(' '),
    quick: settings.quick,
  };
  if (settings.renderOnly) {
    const written = await writeDocs(root, [], stamp);
    progress(`re-rendered from ${OUTPUT_FILES.results}: ${written.join(', ')}`);
    return 0;
  }

  // Ctrl-C / SIGTERM: stop between steps and clean up; a second signal exits at once. (`on`,
  // not `once`: execa's exit hook re-raises a signal that has no other listener left.)
  const abort = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (abort.signal.aborted) {
      progress(`${signal} again: exiting without cleanup (see docs/benchmarks.md for leftovers)`);
      process.exit(130);
    }
    progress(`${signal}: stopping and cleaning up (send it again to exit at once)`);
    abort.abort(new Error(`interrupted by ${signal}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const s = settings;
  const { signal } = abort;
  const runners: Record<BenchmarkId, () => Promise<{ rendered: Rendered; result: unknown }>> = {
    'event-store': async () => {
      progress(`event store: ${s.events} appends per side in ${s.eventRounds} rounds`);
      const r = await benchEventStoreAppends({ events: s.events, rounds: s.eventRounds });
      return { rendered: renderEventStore(r), result: r };
    },
    'event-store-postgres': async () => {
      progress(`event store on PostgreSQL: ${s.pgEvents} appends per side in ${s.pgRounds} rounds`);
      const r = await benchPostgresAppends({
        events: s.pgEvents,
        rounds: s.pgRounds,
        log: (line) => progress(`event store on PostgreSQL: ${line}`),
      });
      return { rendered: renderPostgresAppends(r), result: r };
    },
    snapshot: async () => {
      progress(`cold snapshot: ${s.rounds} rounds (+${s.warmupRounds} warm-up)`);
      const r = await benchColdSnapshot({
        rounds: s.rounds,
        warmupRounds: s.warmupRounds,
        port: s.port,
        diskMiB: s.diskMiB,
        dataMiB: s.dataMiB,
        signal,
        log: (line) => progress(`cold snapshot: ${line}`),
      });
      return { rendered: renderSnapshot(r), result: r };
    },
    'history-route': async () => {
      progress(`history route: ${s.historySnapshots} snapshots, GET history vs GET /healthz`);
      const r = await benchHistoryRoute({
        snapshots: s.historySnapshots,
        rounds: s.historyRounds,
        durationSec: s.historySeconds,
        signal,
        log: (line) => progress(`history route: ${line}`),
      });
      return { rendered: renderHistoryRoute(r), result: r };
    },
    'live-downtime': async () => {
      progress(
        `live downtime: live against cold snapshots, ${s.downtimeDataMiBs.join(' and ')} MiB of data`,
      );
      const r = await benchLiveDowntime({
        rounds: s.downtimeRounds,
        dataMiBs: s.downtimeDataMiBs,
        signal,
        log: (line) => progress(`live downtime: ${line}`),
      });
      return { rendered: renderLiveDowntime(r, s.downtimeRounds), result: r };
    },
    agents: async () => {
      progress(
        `API and agents: ${s.agentsRounds} latency rounds, ${s.agentsConcurrent} concurrent snapshots`,
      );
      const r = await benchAgents({
        rounds: s.agentsRounds,
        concurrent: s.agentsConcurrent,
        signal,
        log: (line) => progress(`API and agents: ${line}`),
      });
      return { rendered: renderAgents(r), result: r };
    },
    incremental: async () => {
      progress(`incremental backup: ${s.incrementalRounds} rounds of a full and an incremental`);
      const r = await benchIncremental({
        rounds: s.incrementalRounds,
        signal,
        log: (line) => progress(`incremental backup: ${line}`),
      });
      return { rendered: renderIncremental(r), result: r };
    },
    replay: async () => {
      progress(`replay: ${int(s.replayEvents)} events, rebuild and verify`);
      const r = await benchReplay({ events: s.replayEvents }, (line) =>
        progress(`replay: ${line}`),
      );
      return { rendered: renderReplay(r), result: r };
    },
    'openstack-cli': async () => {
      progress(`openstack CLI: ${s.oscRounds} rounds per power state`);
      const r = await benchOpenstackCli({
        rounds: s.oscRounds,
        signal,
        log: (line) => progress(`openstack CLI: ${line}`),
      });
      return { rendered: renderOpenstackCli(r), result: r };
    },
  };

  const fresh: SectionEntry[] = [];
  const failures: { benchmark: string; error: string }[] = [];
  try {
    for (const { id } of BENCHMARKS) {
      if (!s.only.includes(id) || signal.aborted) continue;
      const loadAverage = loadavg()
        .map((l) => l.toFixed(2))
        .join(' ');
      const started = Date.now();
      try {
        const { rendered, result } = await runners[id]();
        fresh.push({
          id,
          stamp,
          loadAverage,
          durationSec: Math.round((Date.now() - started) / 1000),
          ...rendered,
          result,
        });
        progress(`${id}: done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
      } catch (error) {
        failures.push({ benchmark: id, error: describe(error) });
        progress(`${id} FAILED: ${describe(error)}`);
      }
    }
    if (signal.aborted) failures.push({ benchmark: 'run', error: 'interrupted' });

    const regions = regionsOf(new Map(fresh.map((e) => [e.id, e])), true);
    let report = generatedDocument(s.quick ? 'quick' : 'report', stamp, regions);
    if (failures.length > 0) {
      report +=
        '\n## Failures\n\n' +
        failures
          .map((f) => {
            const first = f.error.split('\n')[0].trim();
            return `- **${f.benchmark}**: ${first.length > 300 ? `${first.slice(0, 300)}…` : first}`;
          })
          .join('\n') +
        '\n';
    }
    report = await formatMarkdown(report, join(root, OUTPUT_FILES.generated));
    process.stdout.write(report);
    if (s.quick) {
      const file = join(tmpdir(), `snapledger-bench-quick-${stamp.date.replace(/[:.]/g, '-')}.md`);
      await writeFile(file, report);
      progress(`quick run: report in ${file}; nothing under docs/ was written`);
    } else if (fresh.length > 0) {
      const written = await writeDocs(root, fresh, stamp);
      progress(
        `wrote ${fresh.map((e) => e.id).join(', ')} into ${written.join(', ')}` +
          (failures.length > 0 ? ' (failed benchmarks keep their previous sections)' : ''),
      );
    }
    return failures.length > 0 ? 1 : 0;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

if (require.main === module) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(
        `run-benchmarks: ${error instanceof Error ? error.stack : String(error)}\n`,
      );
      process.exitCode = 1;
    },
  );
}
