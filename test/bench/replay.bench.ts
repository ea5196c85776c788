/**
 * Replay at scale: a log of realistic snapshot traffic (instances registered, then each
 * snapshot's nine events: task states, ImageReserved, SnapshotPlanned, ImageExtracted,
 * Uploaded, over many instances and projects), rebuilt into every view by the real
 * `snapledger projections rebuild`, and checked by the real `snapledger verify`.
 *
 * The log is written straight into the store's SQLite file with the store's own schema,
 * positions, revisions and chain hashes (log-hash.ts), in large transactions, because a
 * million one-event appends at synchronous=FULL would take longer than the rest; verify then
 * proves the result is the log the store itself would have written.
 *
 * Baseline: a raw better-sqlite3 INSERT of the same rows (the same columns and text) into a
 * plain table in another file, 10,000 rows per transaction, with the store's pragmas (WAL,
 * synchronous=FULL). Only the inserts are timed; reading the rows back is not.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { stampEvents } from '../../src/commands/event-stamping';
import { chainHash, GENESIS_HASH, storedContentDigest } from '../../src/event-store/log-hash';
import { SqliteEventStore } from '../../src/event-store/sqlite-event-store';
import { instanceStream, type Actor, type SnapledgerEvent } from '../../src/events';
import { offlineSnapshotEvents } from '../support/snapshot-traffic';

export const REPLAY_BENCH_DEFAULTS: {
  readonly events: number;
  readonly instances: number;
  readonly projects: number;
} = {
  events: 1_000_000,
  instances: 1000,
  projects: 50,
} as const;

const REPO = resolve(__dirname, '..', '..', '..');
const CLI = join(REPO, 'bin', 'snapledger');
const BATCH = 10_000;

export interface ReplayBenchResult {
  readonly events: number;
  readonly snapshots: number;
  readonly instances: number;
  readonly logBytes: number;
  /** Raw INSERT of the same rows: events/s. */
  readonly rawInsertEventsPerSec: number;
  readonly rawInsertMs: number;
  /** The rebuild as `projections rebuild` reports it (replay only, without start-up). */
  readonly rebuildMs: number;
  readonly rebuildEventsPerSec: number;
  /** The whole command, start-up included. */
  readonly rebuildWallMs: number;
  readonly rebuildPeakRssMiB: number;
  readonly rebuildProgressLines: number;
  readonly verifyWallMs: number;
  readonly verifyEventsPerSec: number;
  readonly verifyPeakRssMiB: number;
  readonly verifyOk: boolean;
  /** rebuild events/s ÷ raw insert events/s. */
  readonly ratio: number;
  readonly viewRows: Readonly<Record<string, number>>;
}

interface Row {
  position: number;
  event_id: string;
  stream_name: string;
  stream_revision: number;
  type: string;
  data: string;
  metadata: string;
}

/** Writes about `target` events of snapshot traffic into `eventsFile`; returns the counts. */
export function writeTrafficLog(
  eventsFile: string,
  target: number,
  instances: number,
  projects: number,
): { events: number; snapshots: number } {
  // The store creates the file with its schema, triggers and pragmas.
  void SqliteEventStore.open(eventsFile).close();
  const db = new Database(eventsFile);
  db.pragma('synchronous = OFF');
  const insertEvent = db.prepare(
    'INSERT INTO events (position, event_id, stream_name, stream_revision, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const insertHash = db.prepare('INSERT INTO event_hashes (position, hash) VALUES (?, ?)');
  const revisions = new Map<string, number>();
  let position = 0;
  let previous = GENESIS_HASH;
  let pending: Row[] = [];
  const flush = db.transaction((rows: Row[]) => {
    for (const r of rows) {
      insertEvent.run(
        r.position,
        r.event_id,
        r.stream_name,
        r.stream_revision,
        r.type,
        r.data,
        r.metadata,
      );
      previous = chainHash(
        previous,
        r.position,
        r.stream_revision,
        storedContentDigest(r.stream_name, r.type, r.data, r.metadata),
      );
      insertHash.run(r.position, previous);
    }
  });
  let clock = Date.parse('2026-01-01T00:00:00.000Z');
  const tick = { now: () => new Date((clock += 3)) };
  const ids = { uuid: () => randomUUID() };
  const append = (stream: string, actor: Actor, requestId: string, events: SnapledgerEvent[]) => {
    const context = { actor, requestId, correlationId: requestId, causationId: requestId };
    for (const e of stampEvents(events, context, tick, ids)) {
      const revision = (revisions.get(stream) ?? -1) + 1;
      revisions.set(stream, revision);
      position += 1;
      pending.push({
        position,
        event_id: e.metadata.eventId,
        stream_name: stream,
        stream_revision: revision,
        type: e.type,
        data: JSON.stringify(e.data),
        metadata: JSON.stringify(e.metadata),
      });
    }
    if (pending.length >= BATCH) {
      flush(pending);
      pending = [];
    }
  };

  const fleet = Array.from({ length: instances }, (_, i) => {
    const projectId = `project-${i % projects}`;
    const actor: Actor = { userId: `user-${i % (projects * 3)}`, projectId, roles: ['member'] };
    return { instanceId: randomUUID(), name: `vm-${i}`, actor };
  });
  for (const vm of fleet) {
    append(instanceStream(vm.instanceId), vm.actor, `req-${randomUUID()}`, [
      {
        type: 'InstanceRegistered',
        data: {
          instanceId: vm.instanceId,
          domainName: vm.name,
          projectId: vm.actor.projectId,
          userId: vm.actor.userId,
          ownerSource: 'snapledger',
          diskPath: `/var/lib/libvirt/images/${vm.name}.qcow2`,
          diskFormat: 'qcow2',
          powerState: 'shutdown',
          vmState: 'stopped',
          vcpus: 1,
          memoryMiB: 512,
          host: 'bench-host',
        },
      },
    ]);
  }
  let snapshots = 0;
  while (position + 9 <= target) {
    const vm = fleet[snapshots % fleet.length]!;
    const requestId = `req-${randomUUID()}`;
    for (const { stream, event } of offlineSnapshotEvents({
      instanceId: vm.instanceId,
      imageId: randomUUID(),
      imageName: `${vm.name}-nightly-${snapshots}`,
      actor: vm.actor,
      domainName: vm.name,
      diskPath: `/var/lib/libvirt/images/${vm.name}.qcow2`,
      now: () => new Date(clock).toISOString(),
    })) {
      append(stream, vm.actor, requestId, [event]);
    }
    snapshots += 1;
    clock += 60_000;
  }
  if (pending.length > 0) flush(pending);
  db.close();
  return { events: position, snapshots };
}

/** Inserts the log's rows into a plain table of another file; returns the insert time. */
function rawInsert(eventsFile: string, rawFile: string): number {
  const source = new Database(eventsFile, { readonly: true });
  const target = new Database(rawFile);
  target.pragma('journal_mode = WAL');
  target.pragma('synchronous = FULL');
  target.exec(`CREATE TABLE events (
    position INTEGER PRIMARY KEY, event_id TEXT NOT NULL UNIQUE, stream_name TEXT NOT NULL,
    stream_revision INTEGER NOT NULL, type TEXT NOT NULL, data TEXT NOT NULL,
    metadata TEXT NOT NULL, UNIQUE (stream_name, stream_revision))`);
  const read = source.prepare<[number, number], Row>(
    'SELECT position, event_id, stream_name, stream_revision, type, data, metadata FROM events WHERE position > ? ORDER BY position LIMIT ?',
  );
  const insert = target.prepare(
    'INSERT INTO events (position, event_id, stream_name, stream_revision, type, data, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)',
  );
  const write = target.transaction((rows: Row[]) => {
    for (const r of rows) {
      insert.run(
        r.position,
        r.event_id,
        r.stream_name,
        r.stream_revision,
        r.type,
        r.data,
        r.metadata,
      );
    }
  });
  let after = 0;
  let ms = 0;
  for (;;) {
    const rows = read.all(after, BATCH);
    if (rows.length === 0) break;
    const started = performance.now();
    write(rows);
    ms += performance.now() - started;
    after = rows[rows.length - 1]!.position;
  }
  source.close();
  target.close();
  return ms;
}

interface CliRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly wallMs: number;
  readonly peakRssMiB: number;
}

/** A process's peak resident set (VmHWM), in KiB; 0 once it has exited. */
function peakResidentKiB(pid: number): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0; // exited between two samples
  }
}

/** The PIDs of a process's children. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
      .split(/\s+/)
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * Runs the real CLI until it exits, sampling every 100 ms the peak resident set (VmHWM) of
 * its process and of each child it starts (`verify` and `projections rebuild` run again in a
 * child Node with a heap ceiling, src/cli/heap-ceiling.ts). The peak reported is the sum of
 * the two processes' peaks: an upper bound on what they held at once.
 */
function runCli(args: readonly string[], dataDir: string): Promise<CliRun> {
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [CLI, ...args], {
      env: {
        ...process.env,
        SNAPLEDGER_DATA_DIR: dataDir,
        SNAPLEDGER_LIBVIRT_URI: 'qemu+unix:///system?socket=/nonexistent/snapledger-bench',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let ownPeakKiB = 0;
    const childPeaks = new Map<number, number>();
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const sample = () => {
      if (child.pid === undefined) return;
      ownPeakKiB = Math.max(ownPeakKiB, peakResidentKiB(child.pid));
      for (const pid of childrenOf(child.pid)) {
        childPeaks.set(pid, Math.max(childPeaks.get(pid) ?? 0, peakResidentKiB(pid)));
      }
    };
    const peakKiB = () => ownPeakKiB + Math.max(0, ...childPeaks.values());
    const timer = setInterval(sample, 100);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(timer);
      resolvePromise({
        code: code ?? -1,
        stdout,
        stderr,
        wallMs: performance.now() - started,
        peakRssMiB: peakKiB() / 1024,
      });
    });
  });
}

export async function benchReplay(
  options: Partial<typeof REPLAY_BENCH_DEFAULTS> = {},
  progress: (message: string) => void = () => undefined,
): Promise<ReplayBenchResult> {
  const o = { ...REPLAY_BENCH_DEFAULTS, ...options };
  const dir = await mkdtemp(join(tmpdir(), 'snapledger-replay-'));
  try {
    const eventsFile = join(dir, 'events.sqlite');
    progress(`writing a log of ${o.events.toLocaleString('en-US')} events`);
    const { events, snapshots } = writeTrafficLog(eventsFile, o.events, o.instances, o.projects);
    const logBytes = (await stat(eventsFile)).size;
    progress('raw INSERT of the same rows');
    const rawInsertMs = rawInsert(eventsFile, join(dir, 'raw.sqlite'));
    await rm(join(dir, 'raw.sqlite'), { force: true });
    progress('snapledger projections rebuild');
    const rebuild = await runCli(['projections', 'rebuild'], dir);
    if (rebuild.code !== 0) throw new Error(`projections rebuild failed: ${rebuild.stderr}`);
    const reported = JSON.parse(rebuild.stdout) as { events: number; ms: number };
    if (reported.events !== events)
      throw new Error(`rebuild applied ${reported.events} events, the log has ${events}`);
    progress('snapledger verify');
    const verify = await runCli(['verify', '--json'], dir);
    const verified = JSON.parse(verify.stdout) as { ok: boolean; verified: number };
    const views = new Database(join(dir, 'views.sqlite'), { readonly: true });
    const viewRows: Record<string, number> = {};
    for (const table of ['instance_view', 'image_view', 'snapshot_history', 'audit_log']) {
      viewRows[table] = views.prepare(`SELECT count(*) FROM "${table}"`).pluck().get() as number;
    }
    views.close();
    const rawInsertEventsPerSec = events / (rawInsertMs / 1000);
    const rebuildEventsPerSec = events / (reported.ms / 1000);
    return {
      events,
      snapshots,
      instances: o.instances,
      logBytes,
      rawInsertEventsPerSec,
      rawInsertMs,
      rebuildMs: reported.ms,
      rebuildEventsPerSec,
      rebuildWallMs: rebuild.wallMs,
      rebuildPeakRssMiB: rebuild.peakRssMiB,
      rebuildProgressLines: rebuild.stderr.split('\n').filter((l) => l.startsWith('rebuild: '))
        .length,
      verifyWallMs: verify.wallMs,
      verifyEventsPerSec: verified.verified / (verify.wallMs / 1000),
      verifyPeakRssMiB: verify.peakRssMiB,
      verifyOk: verified.ok && verified.verified === events,
      ratio: rebuildEventsPerSec / rawInsertEventsPerSec,
      viewRows,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
