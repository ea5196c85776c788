import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { preparePrivateDataFiles } from '../../src/config/private-data-files';

const mode = (path: string) => statSync(path).mode & 0o777;

describe('preparePrivateDataFiles', () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('creates missing database files 0600, and SQLite gives its -wal/-shm the same mode', () => {
    dir = mkdtempSync(join(tmpdir(), 'sl-private-'));
    const file = join(dir, 'events.sqlite');
    preparePrivateDataFiles([file]);
    expect(mode(file)).toBe(0o600);
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    db.exec('CREATE TABLE t (x); INSERT INTO t VALUES (1)');
    expect(mode(`${file}-wal`)).toBe(0o600);
    expect(mode(`${file}-shm`)).toBe(0o600);
    db.close();
  });

  it('narrows files an older version left readable, and keeps their content', () => {
    dir = mkdtempSync(join(tmpdir(), 'sl-private-'));
    const file = join(dir, 'state.sqlite');
    writeFileSync(file, 'content', { mode: 0o644 });
    writeFileSync(`${file}-wal`, '', { mode: 0o644 });
    preparePrivateDataFiles([file]);
    expect(mode(file)).toBe(0o600);
    expect(mode(`${file}-wal`)).toBe(0o600);
    expect(readFileSync(file, 'utf8')).toBe('content');
  });
});
