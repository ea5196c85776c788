import { resolve } from 'node:path';
import { execa } from 'execa';
import {
  DiskImageToolError,
  type CheckResult,
  type ConvertOptions,
  type DiskImageInfo,
  type DiskImageTool,
  type ImageCompression,
  type ImageMeasure,
  type MeasureOptions,
} from './disk-image.port';

export interface QemuImgToolOptions {
  /** Path of the qemu-img binary. Default: `qemu-img` from PATH. */
  readonly binary?: string;
  /** Timeout of `info`. Default 60 s. */
  readonly infoTimeoutMs?: number;
  /** Timeout of `check`. Default 30 min. */
  readonly checkTimeoutMs?: number;
  /** Timeout of `convert`. Default 6 h. */
  readonly convertTimeoutMs?: number;
  /** Timeout of `measure`. Default 5 min (it reads the allocation map, not the data). */
  readonly measureTimeoutMs?: number;
}

/** Formats qemu-img knows; anything else is refused before it reaches the command line. */
const FORMAT = /^[a-z0-9][a-z0-9_-]{0,31}$/;

/** `    (12.34/100%)` as printed by `qemu-img convert -p` (terminated by \r). */
const PROGRESS = /\((\d+(?:\.\d+)?)\/100%\)/g;

/** qemu-img check exit codes. */
const CHECK_OK = 0;
const CHECK_NOT_SUPPORTED = 63;

/** The compression types qemu-img's qcow2 driver takes as `compression_type`. */
const COMPRESSIONS: readonly ImageCompression[] = ['zlib', 'zstd'];

/**
 * The DiskImageTool port over `qemu-img`. Paths are made absolute and come after `--`, so a
 * path is never read as an option; formats are always given explicitly to convert and check
 * (no probing of raw images). `info` probes, as the port has no format argument.
 */
export class QemuImgTool implements DiskImageTool {
  private readonly binary: string;
  private readonly infoTimeoutMs: number;
  private readonly checkTimeoutMs: number;
  private readonly convertTimeoutMs: number;
  private readonly measureTimeoutMs: number;

  constructor(options: QemuImgToolOptions = {}) {
    this.binary = options.binary ?? 'qemu-img';
    this.infoTimeoutMs = options.infoTimeoutMs ?? 60_000;
    this.checkTimeoutMs = options.checkTimeoutMs ?? 30 * 60_000;
    this.convertTimeoutMs = options.convertTimeoutMs ?? 6 * 3_600_000;
    this.measureTimeoutMs = options.measureTimeoutMs ?? 5 * 60_000;
  }

  async info(
    path: string,
    options: { shared?: boolean; format?: string } = {},
  ): Promise<DiskImageInfo> {
    const file = absolutePath(path);
    const args = ['info', '--output=json'];
    if (options.format !== undefined) {
      requireFormat(options.format);
      args.push('-f', options.format);
    }
    if (options.shared) args.push('-U');
    args.push('--', file);
    const result = await execa(this.binary, args, {
      timeout: this.infoTimeoutMs,
      reject: false,
      stdin: 'ignore',
      env: { LC_ALL: 'C' },
    });
    if (result.failed) throw failure('info', path, result, this.infoTimeoutMs);

    let json: Record<string, unknown>;
    try {
      json = JSON.parse(result.stdout) as Record<string, unknown>;
    } catch (error) {
      throw new DiskImageToolError(
        `qemu-img info ${path} printed invalid JSON: ${String(error)}`,
        result.stderr,
      );
    }
    const format = json['format'];
    const virtualSize = json['virtual-size'];
    if (typeof format !== 'string' || typeof virtualSize !== 'number') {
      throw new DiskImageToolError(
        `qemu-img info ${path} gave no format or virtual-size`,
        result.stderr,
      );
    }
    const actualSize = json['actual-size'];
    const backing = json['full-backing-filename'] ?? json['backing-filename'];
    return {
      format,
      virtualSize,
      actualSize: typeof actualSize === 'number' ? actualSize : null,
      backingFile: typeof backing === 'string' && backing !== '' ? backing : null,
    };
  }

  /**
   * `qemu-img convert -p -f <src> -O <target>`. Progress (0..100, floats) goes to
   * `onProgress`; an exception thrown by the callback is ignored (progress is best effort).
   * 100 is always reported on success. Aborting `signal` kills qemu-img and rejects with the
   * signal's reason; the partial target file is left for the caller (the image store) to discard.
   * `compression` adds `-c -o compression_type=<zlib|zstd>`; only qcow2 output takes it.
   */
  async convert(options: ConvertOptions): Promise<void> {
    const { sourceFormat, targetFormat, onProgress, signal } = options;
    const source = absolutePath(options.source);
    const target = absolutePath(options.target);
    requireFormat(sourceFormat);
    requireFormat(targetFormat);
    const creation = compressionOptions(targetFormat, options.compression);
    const compress = creation.length > 0 ? ['-c', ...creation] : [];
    signal?.throwIfAborted();

    let last = -1;
    const report = (percent: number): void => {
      if (!onProgress || !Number.isFinite(percent) || percent <= last) return;
      last = percent;
      try {
        onProgress(percent);
      } catch {
        // Progress reporting must never fail or hang the conversion.
      }
    };

    const rate =
      options.rateLimit !== undefined &&
      Number.isInteger(options.rateLimit) &&
      options.rateLimit > 0
        ? ['-r', String(options.rateLimit)]
        : [];
    const subprocess = execa(
      this.binary,
      [
        'convert',
        '-p',
        ...rate,
        ...compress,
        '-f',
        sourceFormat,
        '-O',
        targetFormat,
        '--',
        source,
        target,
      ],
      {
        timeout: this.convertTimeoutMs,
        cancelSignal: signal,
        reject: false,
        stdin: 'ignore',
        buffer: { stdout: false, stderr: true },
        env: { LC_ALL: 'C' },
      },
    );
    let pending = '';
    subprocess.stdout.setEncoding('utf8');
    subprocess.stdout.on('data', (chunk: string) => {
      pending += chunk;
      // Only parse complete records (ended by \r or \n); keep the rest for the next chunk.
      const end = Math.max(pending.lastIndexOf('\r'), pending.lastIndexOf('\n'));
      if (end < 0) return;
      const complete = pending.slice(0, end + 1);
      pending = pending.slice(end + 1);
      for (const match of complete.matchAll(PROGRESS)) report(Number(match[1]));
    });

    const result = await subprocess;
    for (const match of pending.matchAll(PROGRESS)) report(Number(match[1]));
    if (result.isCanceled && signal?.aborted) {
      throw signal.reason instanceof Error
        ? signal.reason
        : new DOMException('qemu-img convert aborted', 'AbortError');
    }
    if (result.failed)
      throw failure('convert', `${source} -> ${target}`, result, this.convertTimeoutMs);
    report(100);
  }

  /**
   * `qemu-img measure --output=json -f <src> -O <target> [-o compression_type=...] [-U]`.
   * For a compressed target qemu-img cannot know the ratio: `required` is the uncompressed
   * upper bound. For raw output it is the full virtual size, though convert writes it sparse.
   */
  async measure(options: MeasureOptions): Promise<ImageMeasure> {
    const source = absolutePath(options.source);
    requireFormat(options.sourceFormat);
    requireFormat(options.targetFormat);
    const args = [
      'measure',
      '--output=json',
      '-f',
      options.sourceFormat,
      '-O',
      options.targetFormat,
    ];
    args.push(...compressionOptions(options.targetFormat, options.compression));
    if (options.shared) args.push('-U');
    args.push('--', source);
    const result = await execa(this.binary, args, {
      timeout: this.measureTimeoutMs,
      reject: false,
      stdin: 'ignore',
      env: { LC_ALL: 'C' },
    });
    if (result.failed) throw failure('measure', options.source, result, this.measureTimeoutMs);
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(result.stdout) as Record<string, unknown>;
    } catch (error) {
      throw new DiskImageToolError(
        `qemu-img measure ${options.source} printed invalid JSON: ${String(error)}`,
        result.stderr,
      );
    }
    const required = json['required'];
    const fullyAllocated = json['fully-allocated'];
    if (!isByteCount(required) || !isByteCount(fullyAllocated)) {
      throw new DiskImageToolError(
        `qemu-img measure ${options.source} gave no required or fully-allocated size`,
        result.stderr,
      );
    }
    return { required, fullyAllocated };
  }

  /**
   * `qemu-img check -f <format>`. ok when qemu-img finds no errors (exit 0) or the format has
   * no checks at all (raw: exit 63, "does not support checks"). Corruption (2), leaks (3) and
   * a check that could not complete (1, e.g. the file is missing) give ok: false with the output.
   */
  async check(path: string, format: string): Promise<CheckResult> {
    const file = absolutePath(path);
    requireFormat(format);
    const result = await execa(this.binary, ['check', '-f', format, '--', file], {
      timeout: this.checkTimeoutMs,
      reject: false,
      stdin: 'ignore',
      env: { LC_ALL: 'C' },
    });
    const output = [result.stdout, result.stderr].filter((s) => s.trim() !== '').join('\n');
    if (result.timedOut || result.exitCode === undefined) {
      throw failure('check', path, result, this.checkTimeoutMs);
    }
    if (result.exitCode === CHECK_OK) return { ok: true, output };
    if (result.exitCode === CHECK_NOT_SUPPORTED || /does not support checks/i.test(output)) {
      return { ok: true, output };
    }
    return { ok: false, output };
  }
}

interface FailedRun {
  readonly stderr: string;
  readonly exitCode?: number;
  readonly timedOut: boolean;
  readonly signal?: string;
  readonly originalMessage?: string;
  readonly shortMessage?: string;
}

function failure(
  command: string,
  subject: string,
  result: FailedRun,
  timeoutMs: number,
): DiskImageToolError {
  const stderr = result.stderr.trim();
  let reason: string;
  if (result.timedOut) reason = `timed out after ${timeoutMs} ms`;
  else if (result.exitCode !== undefined) reason = `exit ${result.exitCode}`;
  else if (result.signal) reason = `killed by ${result.signal}`;
  else reason = result.originalMessage ?? result.shortMessage ?? 'did not run';
  // Say it plainly: an operator reading the image's failure must see that the disk filled up.
  if (/no space left on device/i.test(stderr)) reason += '; the disk it writes to is full';
  return new DiskImageToolError(
    `qemu-img ${command} ${subject} failed (${reason})${stderr ? `: ${stderr}` : ''}`,
    stderr,
  );
}

/**
 * Validates a path and makes it absolute. An absolute path can never be read as an option,
 * nor as a qemu protocol specifier ("nbd:...", "json:{...}"), which a relative name with a
 * colon before its first slash would be.
 */
function absolutePath(path: string): string {
  if (typeof path !== 'string' || path === '' || path.includes('\0')) {
    throw new DiskImageToolError(`invalid image path: ${JSON.stringify(path)}`, '');
  }
  return resolve(path);
}

function isByteCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

/**
 * The creation option `-o compression_type=<type>` (convert adds `-c` to it), or nothing;
 * refuses compression for any output but qcow2.
 */
function compressionOptions(
  targetFormat: string,
  compression: ImageCompression | undefined,
): string[] {
  if (compression === undefined) return [];
  if (!COMPRESSIONS.includes(compression)) {
    throw new DiskImageToolError(`invalid compression: ${JSON.stringify(compression)}`, '');
  }
  if (targetFormat !== 'qcow2') {
    throw new DiskImageToolError(
      `compression (${compression}) needs qcow2 output, not ${targetFormat}`,
      '',
    );
  }
  return ['-o', `compression_type=${compression}`];
}

function requireFormat(format: string): void {
  if (!FORMAT.test(format))
    throw new DiskImageToolError(`invalid image format: ${JSON.stringify(format)}`, '');
}
