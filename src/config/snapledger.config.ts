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
  /** How often a step is tried before the snapshot fails. */
  readonly stepAttempts: number;
  /** Named fault-injection points (tests only); empty unless SNAPLEDGER_FAULTS is set. */
  readonly faults: readonly string[];
  /** Disables authentication. Only when asked for explicitly. */
  readonly noAuth: boolean;
}

function intFrom(value: string | undefined, fallback: number, name: string): number {
  if (value === undefined || value === '') return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0)
    throw new Error(`${name} must be a non-negative integer, got "${value}"`);
  return n;
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
    stepAttempts: Math.max(1, intFrom(env.SNAPLEDGER_STEP_ATTEMPTS, 3, 'SNAPLEDGER_STEP_ATTEMPTS')),
    faults: (env.SNAPLEDGER_FAULTS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    noAuth: env.SNAPLEDGER_NO_AUTH === 'yes-i-know',
  };
}

export const SNAPLEDGER_CONFIG = Symbol('SnapledgerConfig');
