import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/snapledger.config';
import { dataFiles, storageLocations } from '../../src/database/storage-locations';
import { planTargetFormat } from '../../src/domain/target-format';

describe('SNAPLEDGER_SNAPSHOT_FORMAT and SNAPLEDGER_SNAPSHOT_COMPRESSION', () => {
  const load = (env: Record<string, string>) =>
    loadConfig({ SNAPLEDGER_DATA_DIR: '/tmp/x', ...env });

  it('default: the source format, uncompressed', () => {
    const config = load({});
    expect(config.snapshotFormat).toBeNull();
    expect(config.snapshotCompression).toBeNull();
  });

  it.each([
    [{ SNAPLEDGER_SNAPSHOT_COMPRESSION: 'off' }, null, null],
    [{ SNAPLEDGER_SNAPSHOT_COMPRESSION: 'zstd' }, null, 'zstd'],
    [{ SNAPLEDGER_SNAPSHOT_COMPRESSION: ' ZLIB ' }, null, 'zlib'],
    [
      { SNAPLEDGER_SNAPSHOT_FORMAT: 'qcow2', SNAPLEDGER_SNAPSHOT_COMPRESSION: 'zstd' },
      'qcow2',
      'zstd',
    ],
    [{ SNAPLEDGER_SNAPSHOT_FORMAT: 'raw', SNAPLEDGER_SNAPSHOT_COMPRESSION: 'off' }, 'raw', null],
  ])('accepts %j', (env, format, compression) => {
    const config = load(env);
    expect(config.snapshotFormat).toBe(format);
    expect(config.snapshotCompression).toBe(compression);
  });

  it.each([
    [
      { SNAPLEDGER_SNAPSHOT_FORMAT: 'vmdk' },
      /SNAPLEDGER_SNAPSHOT_FORMAT must be raw or qcow2, got "vmdk"/,
    ],
    [{ SNAPLEDGER_SNAPSHOT_COMPRESSION: 'lz4' }, /must be off, zlib or zstd, got "lz4"/],
    [{ SNAPLEDGER_SNAPSHOT_COMPRESSION: 'on' }, /must be off, zlib or zstd, got "on"/],
    [
      { SNAPLEDGER_SNAPSHOT_FORMAT: 'raw', SNAPLEDGER_SNAPSHOT_COMPRESSION: 'zstd' },
      /SNAPLEDGER_SNAPSHOT_COMPRESSION=zstd needs qcow2 output, but SNAPLEDGER_SNAPSHOT_FORMAT is raw/,
    ],
  ])('refuses %j at start-up', (env, message) => {
    expect(() => load(env)).toThrow(message);
  });
});

describe('SNAPLEDGER_EVENTSTORE_URL: the log alone in EventStoreDB/KurrentDB', () => {
  const load = (env: Record<string, string>) =>
    loadConfig({ SNAPLEDGER_DATA_DIR: '/tmp/x', ...env });

  it('is off by default and when empty: the log stays with the views', () => {
    expect(load({}).eventStoreUrl).toBeNull();
    expect(load({ SNAPLEDGER_EVENTSTORE_URL: '  ' }).eventStoreUrl).toBeNull();
    expect(storageLocations(load({})).logEngine).toBe('sqlite');
  });

  it.each([
    'esdb://127.0.0.1:2113?tls=false',
    'esdb://admin:changeit@db.example:2113',
    'esdb+discover://db.example:2113',
    'kurrentdb://db.example:2113?tls=false',
    'kurrentdb+discover://admin:changeit@db.example',
  ])('accepts %s as it is', (url) => {
    expect(load({ SNAPLEDGER_EVENTSTORE_URL: ` ${url} ` }).eventStoreUrl).toBe(url);
  });

  it.each([
    [
      'postgres://admin:hunter2@db.example/snap',
      /must be an esdb:\/\/ or kurrentdb:\/\/ URL.*postgres:\/\//,
    ],
    [
      'http://admin:hunter2@db.example:2113',
      /must be an esdb:\/\/ or kurrentdb:\/\/ URL.*http:\/\//,
    ],
    ['hunter2@db.example', /is not a URL/],
    ['esdb://admin:hunter2@', /names no host|is not a URL/],
  ])('refuses %s without repeating the password', (url, message) => {
    let error: Error | undefined;
    try {
      load({ SNAPLEDGER_EVENTSTORE_URL: url });
    } catch (e) {
      error = e as Error;
    }
    expect(error?.message).toMatch(message);
    expect(error?.message).not.toContain('hunter2');
  });

  it('puts only the log in EventStoreDB: views and state stay in SQLite files', () => {
    const storage = storageLocations(load({ SNAPLEDGER_EVENTSTORE_URL: 'esdb://h:2113' }));
    const files = dataFiles('/tmp/x');
    expect(storage.logEngine).toBe('eventstoredb');
    expect(storage.engine).toBe('sqlite');
    expect(storage.views).toEqual({ engine: 'sqlite', path: files.views });
    expect(storage.privateFiles).not.toContain(files.events);
    expect(storage.privateFiles).toContain(files.state);
  });

  it('with SNAPLEDGER_DATABASE_URL too: the log in EventStoreDB, the views in PostgreSQL', () => {
    const config = load({
      SNAPLEDGER_EVENTSTORE_URL: 'kurrentdb://h:2113',
      SNAPLEDGER_DATABASE_URL: 'postgres://u@pg.example/snap',
    });
    expect(config.eventStoreUrl).toBe('kurrentdb://h:2113');
    expect(config.databaseUrl).toBe('postgres://u@pg.example/snap');
    const storage = storageLocations(config);
    expect(storage.logEngine).toBe('eventstoredb');
    expect(storage.engine).toBe('postgres');
    expect(storage.privateFiles).toEqual([]);
  });
});

describe('planTargetFormat', () => {
  it('keeps the source format when none is configured', () => {
    expect(planTargetFormat('qcow2', { snapshotFormat: null, snapshotCompression: null })).toEqual({
      targetFormat: 'qcow2',
    });
    expect(planTargetFormat('raw', { snapshotFormat: null, snapshotCompression: null })).toEqual({
      targetFormat: 'raw',
    });
  });

  it('converts to the configured format', () => {
    expect(planTargetFormat('qcow2', { snapshotFormat: 'raw', snapshotCompression: null })).toEqual(
      { targetFormat: 'raw' },
    );
  });

  it('compresses qcow2 output', () => {
    expect(
      planTargetFormat('raw', { snapshotFormat: 'qcow2', snapshotCompression: 'zstd' }),
    ).toEqual({ targetFormat: 'qcow2', compression: 'zstd' });
    expect(
      planTargetFormat('qcow2', { snapshotFormat: null, snapshotCompression: 'zlib' }),
    ).toEqual({ targetFormat: 'qcow2', compression: 'zlib' });
  });

  it('a raw source with the format left to it is not compressed, and the plan says why', () => {
    const plan = planTargetFormat('raw', { snapshotFormat: null, snapshotCompression: 'zstd' });
    expect(plan.targetFormat).toBe('raw');
    expect(plan.compression).toBeUndefined();
    expect(plan.compressionNotApplied).toMatch(/zstd compression needs qcow2 output.*raw/);
  });
});
