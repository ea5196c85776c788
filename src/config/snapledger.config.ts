import { resolve } from 'node:path';

export interface SnapledgerConfig {
  /** Holds events.sqlite, views.sqlite, images/, admin-token. */
  readonly dataDir: string;
  readonly port: number;
  readonly host: string;
  readonly libvirtUri: string;
  readonly defaultProject: string;
  readonly defaultUser: string;
  /** Name reported as the compute host. */
  readonly hostName: string;
  /** Target image format; null means the source disk's format. */
  readonly snapshotFormat: string | null;
  /**
   * Bytes per second `qemu-img convert` may read (its `-r`), to spare the host's disks during
   * large snapshots; null means no limit.
   */
  readonly convertRateLimit: number | null;
  /** How often a step is tried before the snapshot fails. */
  readonly stepAttempts: number;
  /** Named fault-injection points (tests only); empty unless SNAPLEDGER_FAULTS is set. */
  readonly faults: readonly string[];
  /** Disables authentication. Only when asked for explicitly. */
  readonly noAuth: boolean;
  /** Base URL clients reach the API at, for Location headers and links. */
  readonly publicUrl: string;
}

function intFrom(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`${name} must be a non-negative integer, got "${value}"`);
  return n;
}

function publicUrlFrom(env: NodeJS.ProcessEnv): string {
  const given = env.SNAPLEDGER_PUBLIC_URL?.trim();
  if (given) {
    const url = new URL(given); // throws on a malformed value, at start-up
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new Error(`SNAPLEDGER_PUBLIC_URL must be http(s), got "${given}"`);
    }
    return url.toString().replace(/\/$/, '');
  }
  const host = env.SNAPLEDGER_HOST || '127.0.0.1';
  return `http://${host.includes(':') ? `[${host}]` : host}:${env.SNAPLEDGER_PORT || 8774}`;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): SnapledgerConfig {
  const format = env.SNAPLEDGER_SNAPSHOT_FORMAT?.trim() || null;
  if (format !== null && !['raw', 'qcow2'].includes(format)) {
    throw new Error(`SNAPLEDGER_SNAPSHOT_FORMAT must be raw or qcow2, got "${format}"`);
  }
  return {
    dataDir: resolve(env.SNAPLEDGER_DATA_DIR || './data'),
    port: intFrom(env.SNAPLEDGER_PORT, 8774, 'SNAPLEDGER_PORT'),
    host: env.SNAPLEDGER_HOST || '127.0.0.1',
    libvirtUri: env.SNAPLEDGER_LIBVIRT_URI || 'qemu:///system',
    defaultProject: env.SNAPLEDGER_DEFAULT_PROJECT || 'default',
    defaultUser: env.SNAPLEDGER_DEFAULT_USER || 'admin',
    hostName: env.SNAPLEDGER_HOST_NAME || require('node:os').hostname(),
    snapshotFormat: format,
    convertRateLimit:
      intFrom(env.SNAPLEDGER_CONVERT_RATE_LIMIT, 0, 'SNAPLEDGER_CONVERT_RATE_LIMIT') || null,
    stepAttempts: Math.max(1, intFrom(env.SNAPLEDGER_STEP_ATTEMPTS, 3, 'SNAPLEDGER_STEP_ATTEMPTS')),
    faults: (env.SNAPLEDGER_FAULTS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    noAuth: env.SNAPLEDGER_NO_AUTH === 'yes-i-know',
    publicUrl: publicUrlFrom(env),
  };
}

export const SNAPLEDGER_CONFIG = Symbol('SnapledgerConfig');
