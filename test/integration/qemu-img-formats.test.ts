/**
 * QemuImgTool's output formats, compression and measure, against the real qemu-img.
 */
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiskImageToolError } from '../../src/drivers/disk-image.port';
import { QemuImgTool } from '../../src/drivers/qemu-img.driver';
import { createTestDomain, imagesHaveSameContent, type TestDomain } from '../support/test-domain';

const MiB = 1024 * 1024;

interface QcowInfo {
  readonly format: string;
  readonly 'virtual-size': number;
  readonly 'format-specific': { readonly data: { readonly 'compression-type'?: string } };
}

async function infoJson(path: string, format: string): Promise<QcowInfo> {
  const { stdout } = await execa('qemu-img', ['info', '--output=json', '-f', format, '--', path]);
  return JSON.parse(stdout) as QcowInfo;
}

describe('QemuImgTool formats and compression (real qemu-img)', () => {
  const tool = new QemuImgTool();
  let dir: string;
  let source: string; // qcow2, 64 MiB virtual, 16 MiB of compressible text
  let running: TestDomain | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'snapledger-formats-'));
    const raw = join(dir, 'text.raw');
    const line = 'snapledger compresses this line very well, over and over again.\n';
    await writeFile(raw, line.repeat(Math.ceil((16 * MiB) / line.length)).slice(0, 16 * MiB));
    await execa('truncate', ['-s', '64M', '--', raw]);
    source = join(dir, 'source.qcow2');
    await execa('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', '--', raw, source]);
    await rm(raw);
  });

  afterAll(async () => {
    await running?.destroy();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('compressed qcow2 output (zlib, zstd) is smaller than uncompressed, records its type and keeps the content', async () => {
    const sizes: Record<string, number> = {};
    for (const compression of [undefined, 'zlib', 'zstd'] as const) {
      const target = join(dir, `out-${compression ?? 'plain'}.qcow2`);
      await tool.convert({
        source,
        sourceFormat: 'qcow2',
        target,
        targetFormat: 'qcow2',
        compression,
      });
      sizes[compression ?? 'plain'] = (await stat(target)).size;
      const info = await infoJson(target, 'qcow2');
      expect(info['format']).toBe('qcow2');
      expect(info['virtual-size']).toBe(64 * MiB);
      // Uncompressed qcow2 is created with zlib as its (unused) default type.
      expect(info['format-specific']['data']['compression-type']).toBe(compression ?? 'zlib');
      expect(
        await imagesHaveSameContent(
          { path: source, format: 'qcow2' },
          { path: target, format: 'qcow2' },
          { sameSize: true },
        ),
      ).toBe(true);
      expect((await tool.check(target, 'qcow2')).ok).toBe(true);
    }
    expect(sizes['plain']).toBeGreaterThan(16 * MiB);
    expect(sizes['zlib']).toBeLessThan(sizes['plain'] / 10);
    expect(sizes['zstd']).toBeLessThan(sizes['plain'] / 10);
  });

  it('refuses compression for raw output before running qemu-img', async () => {
    const target = join(dir, 'never.raw');
    await expect(
      tool.convert({
        source,
        sourceFormat: 'qcow2',
        target,
        targetFormat: 'raw',
        compression: 'zstd',
      }),
    ).rejects.toThrow(/compression \(zstd\) needs qcow2 output, not raw/);
    await expect(stat(target)).rejects.toThrow(/ENOENT/);
  });

  it('measure: qcow2 needs about the allocated data, raw the full virtual size', async () => {
    const qcow2 = await tool.measure({ source, sourceFormat: 'qcow2', targetFormat: 'qcow2' });
    expect(qcow2.required).toBeGreaterThanOrEqual(16 * MiB);
    expect(qcow2.required).toBeLessThan(20 * MiB);
    expect(qcow2.fullyAllocated).toBeGreaterThanOrEqual(64 * MiB);

    // Compressed: measure cannot know the ratio and gives the uncompressed bound.
    const zstd = await tool.measure({
      source,
      sourceFormat: 'qcow2',
      targetFormat: 'qcow2',
      compression: 'zstd',
    });
    expect(zstd.required).toBe(qcow2.required);

    const raw = await tool.measure({ source, sourceFormat: 'qcow2', targetFormat: 'raw' });
    expect(raw).toEqual({ required: 64 * MiB, fullyAllocated: 64 * MiB });
  });

  it('measure of a missing file is a DiskImageToolError', async () => {
    await expect(
      tool.measure({
        source: join(dir, 'absent.qcow2'),
        sourceFormat: 'qcow2',
        targetFormat: 'raw',
      }),
    ).rejects.toBeInstanceOf(DiskImageToolError);
  });

  it('measure of a disk a running domain holds needs force-share (-U)', async () => {
    running = await createTestDomain({ name: 'measure', start: true, diskMiB: 64, dataMiB: 8 });
    const options = { source: running.diskPath, sourceFormat: 'qcow2', targetFormat: 'qcow2' };
    await expect(tool.measure(options)).rejects.toThrow(/lock/i);
    const measured = await tool.measure({ ...options, shared: true });
    expect(measured.required).toBeGreaterThanOrEqual(8 * MiB);
    expect(measured.required).toBeLessThan(64 * MiB);
  });
});
