import { join, resolve } from 'node:path';
import { domainScopeFrom, type DomainScope } from './domain-scope';
import type { KeystoneCredentials } from '../drivers/keystone-session';

export interface SnapledgerConfig {
  /** Holds events.sqlite, views.sqlite, images/, admin-token. */
  readonly dataDir: string;
  /**
   * SNAPLEDGER_DATABASE_URL: a postgres:// URL puts the event log, the views and the
   * service state in that PostgreSQL database (shared by every snapledger process); null
   * keeps them in SQLite files in the data directory.
   */
  readonly databaseUrl: string | null;
  /**
   * SNAPLEDGER_EVENTSTORE_URL: an esdb:// or kurrentdb:// connection string puts the event
   * log (only the log) in EventStoreDB/KurrentDB; the views and the service state stay where
   * databaseUrl says. null keeps the log with them.
   */
  readonly eventStoreUrl: string | null;
  readonly port: number;
  readonly host: string;
  readonly libvirtUri: string;
  readonly defaultProject: string;
  readonly defaultUser: string;
  /**
   * The compute host this process speaks for (SNAPLEDGER_HOST_NAME, or `agent --host`;
   * default the machine's hostname): recorded on every instance it discovers, and the name
   * of its lease when it runs as an agent.
   */
  readonly hostName: string;
  /** The libvirt domains that are instances (SNAPLEDGER_DOMAINS, glob patterns; default all). */
  readonly domains: DomainScope;
  /**
   * Where finished images are kept (SNAPLEDGER_IMAGE_DIR, default <data dir>/images). With
   * an API and agents on several machines it is a directory all of them mount: the agents
   * write images there and the API serves them.
   */
  readonly imageDir: string;
  /**
   * Where images are stored (SNAPLEDGER_IMAGE_STORE): `local` files in imageDir (the
   * default), or a Glance (SNAPLEDGER_GLANCE_URL, with SNAPLEDGER_GLANCE_TOKEN as its
   * X-Auth-Token, or a Keystone password sign-in: SNAPLEDGER_GLANCE_AUTH_URL and the user,
   * password and project). With Glance, imageDir holds only the staged conversions.
   */
  readonly imageStore: ImageStoreConfig;
  /** Target image format; null means the source disk's format. */
  readonly snapshotFormat: string | null;
  /**
   * qcow2 cluster compression of snapshots (SNAPLEDGER_SNAPSHOT_COMPRESSION: off, zlib,
   * zstd); null is off. Applies to qcow2 output only: the plan records when it could not.
   */
  readonly snapshotCompression: 'zlib' | 'zstd' | null;
  /**
   * Bytes per second `qemu-img convert` may read (its `-r`), to spare the host's disks during
   * large snapshots; null means no limit.
   */
  readonly convertRateLimit: number | null;
  /** How often a step is tried before the snapshot fails. */
  readonly stepAttempts: number;
  /**
   * Wait after a step's first failed try (SNAPLEDGER_STEP_BACKOFF_MS, default 500), doubled
   * after each further one up to stepBackoffMaxMs (SNAPLEDGER_STEP_BACKOFF_MAX_MS, default 30 s).
   */
  readonly stepBackoffMs: number;
  readonly stepBackoffMaxMs: number;
  /**
   * Running and paused domains with a local qcow2/raw disk are snapshotted live (no
   * downtime) unless SNAPLEDGER_LIVE_SNAPSHOT=off, which forces the cold path (Nova's
   * disable_libvirt_livesnapshot).
   */
  readonly liveSnapshot: boolean;
  /**
   * Where live snapshots keep their qcow2 deltas while QEMU mirrors into them
   * (SNAPLEDGER_DELTA_DIR). QEMU runs as another user, so every directory on the way must
   * be traversable: it cannot be inside the private data directory.
   */
  readonly deltaDir: string;
  /** How long the live path's block copy may take before it is aborted (ms). */
  readonly mirrorTimeoutMs: number;
  /**
   * MiB per second the live path's block copy may move (`virsh blockcopy --bandwidth`), to
   * spare the host's disks; null means no limit (SNAPLEDGER_MIRROR_BANDWIDTH).
   */
  readonly mirrorBandwidthMiB: number | null;
  /**
   * At most this many snapshots do hypervisor work at once on this host
   * (SNAPLEDGER_MAX_CONCURRENT_SNAPSHOTS, default 5); the others wait, in order, holding
   * their instance's task state.
   */
  readonly maxConcurrentSnapshots: number;
  /**
   * How often the whole of libvirt is compared with the instances (SNAPLEDGER_SYNC_INTERVAL,
   * seconds, default 600 as Nova's sync_power_state_interval; 0 turns it off). Lifecycle
   * events reach the log at once; this is the safety net.
   */
  readonly syncIntervalMs: number;
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

function liveSnapshotFrom(value: string | undefined): boolean {
  const v = (value ?? '').trim().toLowerCase();
  if (v === '' || v === 'on' || v === 'true' || v === '1') return true;
  if (v === 'off' || v === 'false' || v === '0') return false;
  throw new Error(`SNAPLEDGER_LIVE_SNAPSHOT must be on or off, got "${value}"`);
}

/** A limit of 0 would let no snapshot ever start: refuse it at start-up. */
function positiveLimit(n: number, name: string): number {
  if (n < 1) throw new Error(`${name} must be at least 1, got ${n}`);
  return n;
}

/**
 * A connection URL from the environment: unset or empty gives null; otherwise it must parse,
 * use one of `schemes` and name a host. Messages name the variable, never the password.
 */
function serviceUrlFrom(
  variable: string,
  value: string | undefined,
  rule: { schemes: readonly string[]; expected: string; kind: string },
): { given: string; url: URL } | null {
  const given = value?.trim();
  if (!given) return null;
  let url: URL;
  try {
    url = new URL(given);
  } catch {
    throw new Error(`${variable} is not a URL: expected ${rule.expected}`);
  }
  if (!rule.schemes.includes(url.protocol.toLowerCase())) {
    throw new Error(`${variable} must be ${rule.kind}, got a ${url.protocol}// URL`);
  }
  if (!url.hostname) throw new Error(`${variable} names no host`);
  return { given, url };
}

/**
 * SNAPLEDGER_DATABASE_URL: unset or empty means SQLite; otherwise a postgres:// or
 * postgresql:// URL naming a host and a database.
 */
export function databaseUrlFrom(value: string | undefined): string | null {
  const parsed = serviceUrlFrom('SNAPLEDGER_DATABASE_URL', value, {
    schemes: ['postgres:', 'postgresql:'],
    expected: 'postgres://user[:password]@host[:port]/database',
    kind: 'a postgres:// URL (PostgreSQL is the only shared store)',
  });
  if (!parsed) return null;
  if (parsed.url.pathname.length <= 1) throw new Error('SNAPLEDGER_DATABASE_URL names no database');
  return parsed.given;
}

/**
 * SNAPLEDGER_EVENTSTORE_URL: unset or empty keeps the log with the views; otherwise an
 * EventStoreDB/KurrentDB connection string naming a host.
 */
export function eventStoreUrlFrom(value: string | undefined): string | null {
  return (
    serviceUrlFrom('SNAPLEDGER_EVENTSTORE_URL', value, {
      schemes: ['esdb:', 'esdb+discover:', 'kurrentdb:', 'kurrentdb+discover:'],
      expected: 'esdb://[user:password@]host[:port][?tls=false]',
      kind: 'an esdb:// or kurrentdb:// URL (EventStoreDB/KurrentDB)',
    })?.given ?? null
  );
}

/**
 * SNAPLEDGER_SNAPSHOT_COMPRESSION. Compression with raw output asked for explicitly is a
 * contradiction, refused here; with the format left to the source's, a raw source simply
 * gets no compression (recorded in the snapshot's plan).
 */
function compressionFrom(value: string | undefined, format: string | null): 'zlib' | 'zstd' | null {
  const v = (value ?? '').trim().toLowerCase();
  if (v === '' || v === 'off') return null;
  if (v !== 'zlib' && v !== 'zstd') {
    throw new Error(`SNAPLEDGER_SNAPSHOT_COMPRESSION must be off, zlib or zstd, got "${value}"`);
  }
  if (format === 'raw') {
    throw new Error(
      `SNAPLEDGER_SNAPSHOT_COMPRESSION=${v} needs qcow2 output, but SNAPLEDGER_SNAPSHOT_FORMAT is raw`,
    );
  }
  return v;
}

export type ImageStoreConfig =
  | { readonly kind: 'local' }
  | {
      readonly kind: 'glance';
      readonly url: string;
      /** A fixed X-Auth-Token; null with keystone set, or for a noauth/trusted Glance. */
      readonly token: string | null;
      /** Keystone password sign-in, renewed as the token nears expiry; null without it. */
      readonly keystone: KeystoneCredentials | null;
    };

const KEYSTONE_VARIABLES = [
  'SNAPLEDGER_GLANCE_USERNAME',
  'SNAPLEDGER_GLANCE_PASSWORD',
  'SNAPLEDGER_GLANCE_PROJECT',
] as const;

/**
 * SNAPLEDGER_GLANCE_AUTH_URL (Keystone's v3 endpoint) with SNAPLEDGER_GLANCE_USERNAME,
 * _PASSWORD and _PROJECT (a project name), and the domains (SNAPLEDGER_GLANCE_USER_DOMAIN,
 * SNAPLEDGER_GLANCE_PROJECT_DOMAIN, default `Default`), as `openstack`'s OS_* variables.
 */
export function keystoneCredentialsFrom(env: NodeJS.ProcessEnv): KeystoneCredentials | null {
  const auth = serviceUrlFrom('SNAPLEDGER_GLANCE_AUTH_URL', env.SNAPLEDGER_GLANCE_AUTH_URL, {
    schemes: ['http:', 'https:'],
    expected: 'http://keystone:5000/v3',
    kind: "an http:// or https:// URL of Keystone's v3 API",
  });
  if (!auth) {
    const stray = KEYSTONE_VARIABLES.find((name) => env[name]?.trim());
    if (stray) throw new Error(`${stray} is set but SNAPLEDGER_GLANCE_AUTH_URL is not`);
    return null;
  }
  const missing = KEYSTONE_VARIABLES.filter((name) => !env[name]?.trim());
  if (missing.length > 0)
    throw new Error(`SNAPLEDGER_GLANCE_AUTH_URL needs ${missing.join(', ')} as well`);
  const path = auth.url.pathname.replace(/\/+$/, '');
  return {
    // Keystone's v3 endpoint: the URL as given when it names /v3, else with /v3 added.
    authUrl: path.endsWith('/v3') ? auth.given.replace(/\/+$/, '') : `${auth.url.origin}${path}/v3`,
    username: env.SNAPLEDGER_GLANCE_USERNAME!.trim(),
    password: env.SNAPLEDGER_GLANCE_PASSWORD!,
    projectName: env.SNAPLEDGER_GLANCE_PROJECT!.trim(),
    userDomainName: env.SNAPLEDGER_GLANCE_USER_DOMAIN?.trim() || 'Default',
    projectDomainName: env.SNAPLEDGER_GLANCE_PROJECT_DOMAIN?.trim() || 'Default',
  };
}

/** SNAPLEDGER_IMAGE_STORE, SNAPLEDGER_GLANCE_URL and its credentials. */
export function imageStoreFrom(env: NodeJS.ProcessEnv): ImageStoreConfig {
  const kind = (env.SNAPLEDGER_IMAGE_STORE ?? '').trim().toLowerCase() || 'local';
  if (kind === 'local') return { kind };
  if (kind !== 'glance') {
    throw new Error(
      `SNAPLEDGER_IMAGE_STORE must be local or glance, got "${env.SNAPLEDGER_IMAGE_STORE}"`,
    );
  }
  const parsed = serviceUrlFrom('SNAPLEDGER_GLANCE_URL', env.SNAPLEDGER_GLANCE_URL, {
    schemes: ['http:', 'https:'],
    expected: 'http://host:9292',
    kind: "an http:// or https:// URL of Glance's API",
  });
  if (!parsed) throw new Error('SNAPLEDGER_IMAGE_STORE=glance needs SNAPLEDGER_GLANCE_URL');
  const token = env.SNAPLEDGER_GLANCE_TOKEN?.trim() || null;
  const keystone = keystoneCredentialsFrom(env);
  if (token && keystone)
    throw new Error(
      'SNAPLEDGER_GLANCE_TOKEN and SNAPLEDGER_GLANCE_AUTH_URL are both set: give Glance a fixed token or a Keystone sign-in, not both',
    );
  return { kind, url: parsed.given, token, keystone };
}

/**
 * A compute host name: letters, digits, dots, dashes and underscores, up to 63 characters,
 * as a hostname label allows. It names the agent's lease and its staging directory.
 */
export function hostNameFrom(value: string): string {
  const name = value.trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(name))
    throw new Error(
      `the host name must be 1-63 letters, digits, dots, dashes or underscores, starting with a letter or digit; got "${value}"`,
    );
  return name;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): SnapledgerConfig {
  const format = env.SNAPLEDGER_SNAPSHOT_FORMAT?.trim() || null;
  if (format !== null && !['raw', 'qcow2'].includes(format)) {
    throw new Error(`SNAPLEDGER_SNAPSHOT_FORMAT must be raw or qcow2, got "${format}"`);
  }
  const compression = compressionFrom(env.SNAPLEDGER_SNAPSHOT_COMPRESSION, format);
  const stepBackoffMs = intFrom(env.SNAPLEDGER_STEP_BACKOFF_MS, 500, 'SNAPLEDGER_STEP_BACKOFF_MS');
  return {
    dataDir: resolve(env.SNAPLEDGER_DATA_DIR || './data'),
    databaseUrl: databaseUrlFrom(env.SNAPLEDGER_DATABASE_URL),
    eventStoreUrl: eventStoreUrlFrom(env.SNAPLEDGER_EVENTSTORE_URL),
    port: intFrom(env.SNAPLEDGER_PORT, 8774, 'SNAPLEDGER_PORT'),
    host: env.SNAPLEDGER_HOST || '127.0.0.1',
    libvirtUri: env.SNAPLEDGER_LIBVIRT_URI || 'qemu:///system',
    defaultProject: env.SNAPLEDGER_DEFAULT_PROJECT || 'default',
    defaultUser: env.SNAPLEDGER_DEFAULT_USER || 'admin',
    hostName: hostNameFrom(env.SNAPLEDGER_HOST_NAME || require('node:os').hostname()),
    domains: domainScopeFrom(env.SNAPLEDGER_DOMAINS),
    imageStore: imageStoreFrom(env),
    imageDir: resolve(
      env.SNAPLEDGER_IMAGE_DIR || join(resolve(env.SNAPLEDGER_DATA_DIR || './data'), 'images'),
    ),
    snapshotFormat: format,
    snapshotCompression: compression,
    convertRateLimit:
      intFrom(env.SNAPLEDGER_CONVERT_RATE_LIMIT, 0, 'SNAPLEDGER_CONVERT_RATE_LIMIT') || null,
    stepAttempts: Math.max(1, intFrom(env.SNAPLEDGER_STEP_ATTEMPTS, 3, 'SNAPLEDGER_STEP_ATTEMPTS')),
    stepBackoffMs,
    // The cap is never below the first wait.
    stepBackoffMaxMs: Math.max(
      stepBackoffMs,
      intFrom(env.SNAPLEDGER_STEP_BACKOFF_MAX_MS, 30_000, 'SNAPLEDGER_STEP_BACKOFF_MAX_MS'),
    ),
    liveSnapshot: liveSnapshotFrom(env.SNAPLEDGER_LIVE_SNAPSHOT),
    deltaDir: resolve(env.SNAPLEDGER_DELTA_DIR || '/var/lib/snapledger/deltas'),
    mirrorTimeoutMs:
      1000 * Math.max(1, intFrom(env.SNAPLEDGER_MIRROR_TIMEOUT, 3600, 'SNAPLEDGER_MIRROR_TIMEOUT')),
    mirrorBandwidthMiB:
      intFrom(env.SNAPLEDGER_MIRROR_BANDWIDTH, 0, 'SNAPLEDGER_MIRROR_BANDWIDTH') || null,
    maxConcurrentSnapshots: positiveLimit(
      intFrom(env.SNAPLEDGER_MAX_CONCURRENT_SNAPSHOTS, 5, 'SNAPLEDGER_MAX_CONCURRENT_SNAPSHOTS'),
      'SNAPLEDGER_MAX_CONCURRENT_SNAPSHOTS',
    ),
    syncIntervalMs: 1000 * intFrom(env.SNAPLEDGER_SYNC_INTERVAL, 600, 'SNAPLEDGER_SYNC_INTERVAL'),
    faults: (env.SNAPLEDGER_FAULTS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    noAuth: env.SNAPLEDGER_NO_AUTH === 'yes-i-know',
    publicUrl: publicUrlFrom(env),
  };
}

export const SNAPLEDGER_CONFIG = Symbol('SnapledgerConfig');
