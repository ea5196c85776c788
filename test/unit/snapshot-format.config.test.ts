import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/snapledger.config';
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
