import { constants } from 'node:fs';
import { access, chmod, mkdir, rm, stat } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { execa } from 'execa';
import { DiskImageToolError } from './disk-image.port';
import type { CreatedDelta, DeltaSource, LiveDeltaStore } from './live-delta.port';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const FORMAT = /^[a-z0-9][a-z0-9_-]{0,31}$/;
/** Nova makes its live-snapshot directory 0701: QEMU's user may traverse it, not list it. */
const DELTA_DIR_MODE = 0o701;
/** Directories we create on the way to it: traversable by everyone. */
const PARENT_MODE = 0o711;
const QEMU_IMG_TIMEOUT_MS = 120_000;

/**
 * Live-snapshot deltas made with `qemu-img create -f qcow2 [-b <backing> -F <fmt>]`, in a
 * directory of their own. Creating the directory also checks that QEMU's user can reach it:
 * a directory on the path that others cannot traverse makes the block copy fail with a
 * permission error long after the cause, so it is reported here instead.
 */
export class QemuImgDeltaStore implements LiveDeltaStore {
  private readonly dir: string;
  private prepared: Promise<void> | null = null;

  constructor(dir: string) {
    if (!isAbsolute(dir)) throw new Error(`the delta directory must be absolute: ${dir}`);
    this.dir = resolve(dir);
  }

  pathOf(imageId: string): string {
    if (!UUID.test(imageId)) throw new Error(`not an image id: ${JSON.stringify(imageId)}`);
    return join(this.dir, `${imageId}.qcow2`);
  }

  async create(imageId: string, source: DeltaSource): Promise<CreatedDelta> {
    const path = this.pathOf(imageId);
    if (!isAbsolute(source.diskPath) || !FORMAT.test(source.diskFormat)) {
      throw new DiskImageToolError(`invalid delta source ${JSON.stringify(source)}`, '');
    }
    await this.prepare();
    const info = await this.qemuImg('info', [
      'info',
      '--output=json',
      '-U',
      '-f',
      source.diskFormat,
      '--',
      source.diskPath,
    ]);
    const json = JSON.parse(info) as Record<string, unknown>;
    const size = json['virtual-size'];
    if (typeof size !== 'number') {
      throw new DiskImageToolError(`qemu-img info ${source.diskPath} gave no virtual-size`, '');
    }
    const backing = json['full-backing-filename'] ?? json['backing-filename'];
    const backingFormat = json['backing-filename-format'];
    const args = ['create', '-q', '-f', 'qcow2'];
    // Over the disk's own backing file, as Nova does, so the shallow copy takes only the top
    // layer. The backing format is stated, never probed.
    if (typeof backing === 'string' && backing !== '') {
      if (typeof backingFormat !== 'string' || !FORMAT.test(backingFormat)) {
        throw new DiskImageToolError(
          `the backing file of ${source.diskPath} has no declared format; refusing to probe it`,
          '',
        );
      }
      args.push('-b', resolve(dirname(source.diskPath), backing), '-F', backingFormat);
    }
    await rm(path, { force: true });
    await this.qemuImg('create', [...args, '--', path, String(size)]);
    return { path, overBackingFile: args.includes('-b') };
  }

  async createEmpty(imageId: string, virtualSize: number): Promise<string> {
    const path = this.pathOf(imageId);
    if (!Number.isSafeInteger(virtualSize) || virtualSize <= 0) {
      throw new DiskImageToolError(`invalid virtual size ${virtualSize}`, '');
    }
    await this.prepare();
    await rm(path, { force: true });
    await this.qemuImg('create', ['create', '-q', '-f', 'qcow2', '--', path, String(virtualSize)]);
    return path;
  }

  async exists(imageId: string): Promise<boolean> {
    try {
      await access(this.pathOf(imageId), constants.F_OK);
      return true;
    } catch {
      return false;
    }
  }

  async remove(imageId: string): Promise<boolean> {
    const existed = await this.exists(imageId);
    await rm(this.pathOf(imageId), { force: true });
    return existed;
  }

  /** Creates the directory (0701) and its missing parents (0711); checks the rest. */
  private prepare(): Promise<void> {
    this.prepared ??= this.makeTraversable().catch((error: unknown) => {
      this.prepared = null;
      throw error;
    });
    return this.prepared;
  }

  private async makeTraversable(): Promise<void> {
    const chain: string[] = [];
    for (let d = this.dir; ; d = dirname(d)) {
      chain.unshift(d);
      if (dirname(d) === d) break;
    }
    for (const d of chain) {
      const existing = await stat(d).catch(() => null);
      if (existing === null) {
        await mkdir(d).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'EEXIST') throw error;
        });
        await chmod(d, d === this.dir ? DELTA_DIR_MODE : PARENT_MODE);
        continue;
      }
      if (!existing.isDirectory()) throw new Error(`${d} is not a directory`);
      if (d === this.dir) {
        if ((existing.mode & 0o777) !== DELTA_DIR_MODE) await chmod(d, DELTA_DIR_MODE);
      } else if ((existing.mode & 0o001) === 0) {
        throw new Error(
          `SNAPLEDGER_DELTA_DIR ${this.dir}: ${d} is not traversable by other users, so QEMU cannot reach the deltas; choose another directory`,
        );
      }
    }
  }

  private async qemuImg(command: string, args: readonly string[]): Promise<string> {
    const result = await execa('qemu-img', args, {
      timeout: QEMU_IMG_TIMEOUT_MS,
      reject: false,
      stdin: 'ignore',
      env: { LC_ALL: 'C' },
    });
    if (result.failed) {
      throw new DiskImageToolError(
        `qemu-img ${command} failed: ${result.stderr.trim() || result.shortMessage}`,
        result.stderr,
      );
    }
    return result.stdout;
  }
}
