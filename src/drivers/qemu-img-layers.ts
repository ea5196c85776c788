import { isAbsolute, resolve } from 'node:path';
import { execa } from 'execa';
import { DiskImageToolError } from './disk-image.port';
import type { ImageLayers } from './image-layers.port';

const FORMAT = /^[a-z0-9][a-z0-9_-]{0,31}$/;
/** Metadata work (create, map, info, unsafe rebase, check). */
const QUICK_TIMEOUT_MS = 10 * 60_000;
/** Copies of data (safe rebase, flatten). */
const COPY_TIMEOUT_MS = 6 * 3_600_000;

/** One extent of `qemu-img map --output=json`. */
interface MapExtent {
  readonly start: number;
  readonly length: number;
  readonly depth: number;
  readonly present?: boolean;
}

/** The ImageLayers port over qemu-img, with argument arrays and absolute paths only. */
export class QemuImgLayers implements ImageLayers {
  constructor(private readonly binary = 'qemu-img') {}

  async createEmpty(path: string, virtualSize: number): Promise<void> {
    if (!Number.isSafeInteger(virtualSize) || virtualSize <= 0) {
      throw new DiskImageToolError(`invalid virtual size ${virtualSize}`, '');
    }
    await this.run(['create', '-q', '-f', 'qcow2', '--', file(path), String(virtualSize)]);
  }

  async createOver(path: string, backing: string, backingFormat: string): Promise<void> {
    if (!FORMAT.test(backingFormat)) {
      throw new DiskImageToolError(`invalid backing format ${JSON.stringify(backingFormat)}`, '');
    }
    await this.run([
      'create',
      '-q',
      '-f',
      'qcow2',
      '-b',
      file(backing),
      '-F',
      backingFormat,
      '--',
      file(path),
    ]);
  }

  async rebase(path: string, backing: string | null): Promise<void> {
    const target = backing === null ? ['-b', ''] : ['-b', file(backing), '-F', 'qcow2'];
    await this.run(['rebase', '-q', '-f', 'qcow2', ...target, '--', file(path)], COPY_TIMEOUT_MS);
  }

  async setBackingUnsafe(path: string, backing: string): Promise<void> {
    await this.run([
      'rebase',
      '-q',
      '-u',
      '-f',
      'qcow2',
      '-b',
      file(backing),
      '-F',
      'qcow2',
      '--',
      file(path),
    ]);
  }

  async flatten(layer: string, target: string, signal?: AbortSignal): Promise<void> {
    // -U: a merge may hold the layer's write lock; it never changes what the chain reads.
    await this.run(
      ['convert', '-U', '-f', 'qcow2', '-O', 'qcow2', '--', file(layer), file(target)],
      COPY_TIMEOUT_MS,
      signal,
    );
  }

  async topLayerBytes(path: string): Promise<number> {
    const stdout = await this.run(['map', '--output=json', '-U', '-f', 'qcow2', '--', file(path)]);
    const extents = JSON.parse(stdout) as MapExtent[];
    return extents
      .filter((e) => e.depth === 0 && e.present !== false)
      .reduce((sum, e) => sum + e.length, 0);
  }

  async check(path: string): Promise<{ ok: boolean; output: string }> {
    const result = await execa(this.binary, ['check', '-U', '-f', 'qcow2', '--', file(path)], {
      timeout: QUICK_TIMEOUT_MS,
      reject: false,
      stdin: 'ignore',
      env: { LC_ALL: 'C' },
    });
    const output = [result.stdout, result.stderr].filter((s) => s.trim() !== '').join('\n');
    return { ok: result.exitCode === 0, output };
  }

  async backingOf(path: string): Promise<string | null> {
    const json = JSON.parse(
      await this.run(['info', '--output=json', '-U', '-f', 'qcow2', '--', file(path)]),
    ) as Record<string, unknown>;
    const backing = json['backing-filename'];
    return typeof backing === 'string' && backing !== '' ? backing : null;
  }

  private async run(
    args: readonly string[],
    timeoutMs = QUICK_TIMEOUT_MS,
    signal?: AbortSignal,
  ): Promise<string> {
    signal?.throwIfAborted();
    const result = await execa(this.binary, args, {
      timeout: timeoutMs,
      reject: false,
      stdin: 'ignore',
      env: { LC_ALL: 'C' },
      ...(signal ? { cancelSignal: signal } : {}),
    });
    if (result.isCanceled) signal?.throwIfAborted();
    if (result.failed) {
      const stderr = result.stderr.trim();
      const why = result.timedOut
        ? `timed out after ${timeoutMs} ms`
        : `exit ${String(result.exitCode)}`;
      throw new DiskImageToolError(
        `qemu-img ${args[0]} failed (${why})${stderr ? `: ${stderr}` : ''}`,
        stderr,
      );
    }
    return result.stdout;
  }
}

/** Refuses anything but an absolute path: never an option, never a protocol (nbd:, json:). */
function file(path: string): string {
  if (typeof path !== 'string' || !isAbsolute(path) || path.includes('\0')) {
    throw new DiskImageToolError(`invalid image path: ${JSON.stringify(path)}`, '');
  }
  return resolve(path);
}
