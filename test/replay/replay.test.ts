import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource } from 'typeorm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteEventStore } from '../../src/event-store/sqlite-event-store';
import type { NewEvent } from '../../src/events/recorded-event';
import { createViewProjections, ProjectionRunner } from '../../src/projections/projection-runner';
import { dumpViews } from '../../src/projections/view-dump';
import { createViewsDataSource } from '../../src/projections/views.data-source';
import { DATABASE_ENGINES, useDatabaseTargets } from '../support/database-targets';

/**
 * Replays a recorded log (test/fixtures/replay/events.jsonl) into fresh views and compares
 * every view table with its golden file. Regenerate the goldens with UPDATE_GOLDEN=1, then
 * read them: they are the specification of what the projections make of the log.
 */
const FIXTURE_DIR = join(__dirname, '..', 'fixtures', 'replay');
const GOLDEN_DIR = join(FIXTURE_DIR, 'golden');
const UPDATE_GOLDEN = process.env.UPDATE_GOLDEN === '1';

interface FixtureLine extends NewEvent {
  readonly streamName: string;
}

function loadFixture(): FixtureLine[] {
  return readFileSync(join(FIXTURE_DIR, 'events.jsonl'), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as FixtureLine);
}

const goldenText = (rows: unknown[]): string => `${JSON.stringify(rows, null, 2)}\n`;

describe.each(DATABASE_ENGINES)('replay of the recorded log into %s views', (engine) => {
  const freshDatabase = useDatabaseTargets(engine);
  let dir: string;
  let store: SqliteEventStore;
  let lastPosition: number;
  const dataSources: DataSource[] = [];
  const runners: ProjectionRunner[] = [];

  async function freshViews(
    name: string,
  ): Promise<{ dataSource: DataSource; runner: ProjectionRunner }> {
    const dataSource = createViewsDataSource(await freshDatabase(name));
    await dataSource.initialize();
    dataSources.push(dataSource);
    const runner = new ProjectionRunner(store, dataSource, createViewProjections());
    runners.push(runner);
    return { dataSource, runner };
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'snapledger-replay-'));
    store = SqliteEventStore.open(join(dir, 'events.sqlite'), { pollIntervalMs: 20 });
    for (const { streamName, type, data, metadata } of loadFixture()) {
      await store.append(streamName, [{ type, data, metadata }], 'any');
    }
    lastPosition = await store.lastPosition();
  });

  afterAll(async () => {
    for (const runner of runners) await runner.stop();
    for (const dataSource of dataSources) if (dataSource.isInitialized) await dataSource.destroy();
    await store?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('is a log of an older release: its v1 plans are read as v2, the stored bytes unchanged', async () => {
    const stored = loadFixture().filter((e) => e.type === 'SnapshotPlanned');
    expect(stored.length).toBeGreaterThan(0);
    expect(
      stored.every((e) => e.metadata.schemaVersion === 1 && !('diskKind' in (e.data as object))),
    ).toBe(true);
    const read = (await store.readAll()).filter((e) => e.type === 'SnapshotPlanned');
    expect(
      read.map((e) => [e.metadata.schemaVersion, (e.data as { diskKind: string }).diskKind]),
    ).toEqual(stored.map(() => [2, 'file']));
  });

  let rebuilt: Record<string, unknown[]>;
  let rebuiltViews: { dataSource: DataSource; runner: ProjectionRunner };

  it('rebuilds every view from position 0 exactly as the golden files say', async () => {
    rebuiltViews = await freshViews('views-rebuild');
    const result = await rebuiltViews.runner.rebuild();
    expect(result.events).toBe(lastPosition);
    expect(rebuiltViews.runner.position).toBe(lastPosition);
    rebuilt = await dumpViews(rebuiltViews.dataSource);

    const tables = Object.keys(rebuilt).sort();
    if (UPDATE_GOLDEN) {
      for (const table of tables)
        writeFileSync(join(GOLDEN_DIR, `${table}.json`), goldenText(rebuilt[table]!));
    }
    const goldenFiles = existsSync(GOLDEN_DIR)
      ? readdirSync(GOLDEN_DIR)
          .filter((f) => f.endsWith('.json'))
          .sort()
      : [];
    expect(goldenFiles, 'one golden file per view table').toEqual(tables.map((t) => `${t}.json`));
    for (const table of tables) {
      const golden = readFileSync(join(GOLDEN_DIR, `${table}.json`), 'utf8');
      expect(goldenText(rebuilt[table]!), `${table} differs from golden/${table}.json`).toBe(
        golden,
      );
    }
  });

  it('gives a byte-identical dump when rebuilt again', async () => {
    const again = await rebuiltViews.runner.rebuild();
    expect(again.events).toBe(lastPosition);
    const dump = await dumpViews(rebuiltViews.dataSource);
    expect(JSON.stringify(dump)).toBe(JSON.stringify(rebuilt));
  });

  it('gives the same views when the live runner follows the log from an empty database', async () => {
    const live = await freshViews('views-live');
    await live.runner.start();
    expect(await live.runner.waitFor(lastPosition, 10_000)).toBe(true);
    expect(live.runner.lastError).toBeUndefined();
    await live.runner.stop();
    const dump = await dumpViews(live.dataSource);
    expect(JSON.stringify(dump)).toBe(JSON.stringify(rebuilt));
  });
});
