import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Column, DataSource, Entity, type Logger, PrimaryColumn } from 'typeorm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bindNumbersAsParameters } from '../../src/database/sqlite-bound-numbers';

@Entity({ name: 'reading' })
class Reading {
  @PrimaryColumn({ type: 'integer' })
  position!: number;

  @Column({ type: 'real', nullable: true })
  percent!: number | null;

  @Column({ type: 'text', nullable: true })
  label!: string | number | null;
}

/** Every statement text TypeORM sends, with its parameters. */
class StatementLog implements Logger {
  readonly statements: { sql: string; parameters: unknown[] }[] = [];
  logQuery(sql: string, parameters?: unknown[]): void {
    this.statements.push({ sql, parameters: parameters ?? [] });
  }
  logQueryError(): void {}
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
}

/** TypeORM on a real SQLite file, with and without bindNumbersAsParameters. */
describe('bindNumbersAsParameters (TypeORM on better-sqlite3)', () => {
  let dir: string;
  let file: string;
  let db: DataSource;
  let log: StatementLog;

  async function open(bound: boolean): Promise<void> {
    log = new StatementLog();
    db = new DataSource({
      type: 'better-sqlite3',
      database: file,
      entities: [Reading],
      synchronize: true,
      logging: ['query'],
      logger: log,
    });
    if (bound) bindNumbersAsParameters(db);
    await db.initialize();
  }

  async function writeSome(): Promise<string[]> {
    const repo = db.getRepository(Reading);
    const from = log.statements.length;
    for (let position = 1; position <= 20; position += 1)
      await repo.insert({ position, percent: position / 4, label: position * 10 });
    await repo.update({ position: 7 }, { percent: 99.5 });
    await repo.update({ position: 8 }, { percent: 12 });
    return log.statements.slice(from).map((s) => s.sql);
  }

  /** What the file holds, with SQLite's own storage class of each value. */
  function stored() {
    const raw = new Database(file, { readonly: true });
    try {
      return raw
        .prepare(
          'SELECT position, percent, typeof(percent) AS percent_type, label, typeof(label) AS label_type FROM reading ORDER BY position',
        )
        .all();
    } finally {
      raw.close();
    }
  }

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'snapledger-bound-'));
    file = join(dir, 'views.sqlite');
  });

  afterEach(async () => {
    if (db?.isInitialized) await db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('TypeORM alone writes each number into the SQL: every insert is a new statement', async () => {
    await open(false);
    const sql = await writeSome();
    expect(new Set(sql.filter((s) => s.startsWith('INSERT'))).size).toBe(20);
  });

  it('bound, one statement text serves every insert and every update shape', async () => {
    await open(true);
    const sql = await writeSome();
    const inserts = sql.filter((s) => s.startsWith('INSERT'));
    expect(inserts).toHaveLength(20);
    expect(new Set(inserts).size).toBe(1);
    expect(inserts[0]).not.toMatch(/\b20\b/);
    expect(new Set(sql.filter((s) => s.startsWith('UPDATE'))).size).toBe(1);
    const found = await db.getRepository(Reading).findOneBy({ position: 7 });
    expect(found).toEqual({ position: 7, percent: 99.5, label: '70' });
  });

  it('stores exactly what the inlined literals stored: the same values and storage classes', async () => {
    await open(false);
    await writeSome();
    const inlined = stored();
    await db.destroy();
    rmSync(file);
    rmSync(`${file}-wal`, { force: true });
    rmSync(`${file}-shm`, { force: true });
    await open(true);
    await writeSome();
    const bound = stored();
    expect(bound).toEqual(inlined);
    // A whole number in a text column is '10', not '10.0'; in a real column a real.
    expect(bound[0]).toEqual({
      position: 1,
      percent: 0.25,
      percent_type: 'real',
      label: '10',
      label_type: 'text',
    });
  });
});
