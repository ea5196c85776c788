import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';

/** Mode of every database file and its WAL and shared-memory companions. */
export const DATA_FILE_MODE = 0o600;

/** SQLite's companions of a database file in WAL mode (and rollback mode). */
const COMPANION_SUFFIXES = ['-wal', '-shm', '-journal'];

/**
 * Makes the SQLite files of the data directory private before SQLite opens them. A missing
 * database file is created empty with mode 0600 (SQLite treats an empty file as a new
 * database), and SQLite gives its -wal and -shm files the mode of the database file, so they
 * are 0600 too; files left by an older version with a wider mode are narrowed. Without this,
 * SQLite creates them 0644 under the usual umask, readable by every local user (the log
 * holds every actor and request, state.sqlite the token hashes). The data directory itself
 * is created 0700 (AppModule) but an existing one is left as the operator made it: the live
 * snapshot's delta directory may lie below it and QEMU's user must traverse it.
 */
export function preparePrivateDataFiles(databaseFiles: readonly string[]): void {
  for (const file of databaseFiles) {
    closeSync(openSync(file, 'a', DATA_FILE_MODE));
    chmodSync(file, DATA_FILE_MODE);
    for (const suffix of COMPANION_SUFFIXES) {
      const companion = `${file}${suffix}`;
      if (existsSync(companion)) chmodSync(companion, DATA_FILE_MODE);
    }
  }
}
