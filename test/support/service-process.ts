import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import Database from 'better-sqlite3';

/** The repository root: from test/support, or from dist/test/support when compiled (benchmarks). */
const REPO = [resolve(__dirname, '..', '..'), resolve(__dirname, '..', '..', '..')].find((dir) =>
  existsSync(join(dir, 'package.json')),
)!;
const CLI = join(REPO, 'bin', 'snapledger');

export interface ApiResponse<T = unknown> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

export interface StoredEventRow {
  position: number;
  stream_name: string;
  type: string;
  data: string;
  metadata: string;
}

/** A free loopback TCP port. */
export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * A real `snapledger serve` child process with its own data directory and port, for
 * end-to-end tests. It is ended by its PID only.
 */
export class ServiceProcess {
  private child: ChildProcess | null = null;
  private exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | null = null;
  private output = '';

  private constructor(
    readonly dataDir: string,
    readonly port: number,
    private readonly ownsDataDir: boolean,
  ) {}

  static async create(options: { dataDir?: string } = {}): Promise<ServiceProcess> {
    const dataDir = options.dataDir ?? (await mkdtemp(join(tmpdir(), 'snapledger-e2e-')));
    return new ServiceProcess(dataDir, await freePort(), options.dataDir === undefined);
  }

  get baseUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The PID of the running service, or null. */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  get logs(): string {
    return this.output;
  }

  /** The bootstrap admin token the service wrote on first start. */
  get adminToken(): string {
    return readFileSync(join(this.dataDir, 'admin-token'), 'utf8').trim();
  }

  /**
   * Starts the service and waits until it answers; `env` adds variables (e.g.
   * SNAPLEDGER_FAULTS). `args` replace `serve` (e.g. `serve --role api`, or `agent --host
   * h`); an agent has no HTTP, and is ready once it logs that it runs.
   */
  async start(env: Record<string, string> = {}, args: string[] = ['serve']): Promise<void> {
    if (this.child) throw new Error('service already started');
    const agent = args[0] === 'agent';
    const outputFrom = this.output.length;
    const child = spawn(process.execPath, [CLI, ...args], {
      env: {
        ...process.env,
        SNAPLEDGER_DATA_DIR: this.dataDir,
        SNAPLEDGER_PORT: String(this.port),
        SNAPLEDGER_HOST: '127.0.0.1',
        SNAPLEDGER_LOG_LEVEL: 'info',
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise((resolveExit) =>
      child.once('exit', (code, signal) => resolveExit({ code, signal })),
    );
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`service exited during start-up:\n${this.output}`);
      }
      if (agent) {
        if (this.output.slice(outputFrom).includes('"msg":"snapledger agent is running"')) return;
      } else if (existsSync(join(this.dataDir, 'admin-token'))) {
        try {
          const res = await fetch(`${this.baseUrl}/v1/instances`, {
            headers: { 'X-Auth-Token': this.adminToken },
          });
          if (res.status === 200) return;
        } catch {
          // not listening yet
        }
      }
      if (Date.now() > deadline)
        throw new Error(`service did not start within 60 s:\n${this.output}`);
      await delay(100);
    }
  }

  /** Resolves when the process has exited (e.g. after an injected SIGKILL). */
  async waitForExit(
    timeoutMs = 120_000,
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.exited) throw new Error('service not started');
    const result = await Promise.race([
      this.exited,
      delay(timeoutMs).then(() => {
        throw new Error(`service did not exit within ${timeoutMs} ms`);
      }),
    ]);
    this.child = null;
    this.exited = null;
    return result;
  }

  /** SIGTERM (graceful), then SIGKILL if it does not stop. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || child.pid === undefined) return;
    process.kill(child.pid, 'SIGTERM');
    try {
      await this.waitForExit(90_000);
    } catch {
      if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
      await this.waitForExit(10_000);
    }
  }

  async kill(): Promise<void> {
    const child = this.child;
    if (!child || child.pid === undefined) return;
    process.kill(child.pid, 'SIGKILL');
    await this.waitForExit(10_000);
  }

  /** Stops the service and removes its data directory if this harness made it. */
  async dispose(): Promise<void> {
    await this.stop();
    if (this.ownsDataDir) await rm(this.dataDir, { recursive: true, force: true });
  }

  async api<T = unknown>(
    method: string,
    path: string,
    options: {
      token?: string | null;
      body?: unknown;
      rawBody?: string;
      headers?: Record<string, string>;
    } = {},
  ): Promise<ApiResponse<T>> {
    const token = options.token === undefined ? this.adminToken : options.token;
    const headers: Record<string, string> = { Accept: 'application/json', ...options.headers };
    if (token !== null) headers['X-Auth-Token'] = token;
    let body: string | undefined;
    if (options.rawBody !== undefined) body = options.rawBody;
    else if (options.body !== undefined) body = JSON.stringify(options.body);
    if (body !== undefined && !headers['Content-Type'])
      headers['Content-Type'] = 'application/json';
    const res = await fetch(`${this.baseUrl}${path}`, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON
    }
    return { status: res.status, headers: res.headers, body: parsed as T };
  }

  /** Runs a `snapledger` CLI command against this service's data directory. */
  async cli(
    args: string[],
    env: Record<string, string> = {},
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: {
        ...process.env,
        SNAPLEDGER_DATA_DIR: this.dataDir,
        SNAPLEDGER_PORT: String(this.port),
        ...env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const code = await new Promise<number | null>((resolveCode) =>
      child.once('exit', (c) => resolveCode(c)),
    );
    return { code, stdout, stderr };
  }

  /**
   * Makes an X-Auth-Token with `snapledger token create` (against this service's data
   * directory), for a user of a project with the given roles; `ttlSeconds` makes it expire.
   */
  async createToken(
    projectId: string,
    userId: string,
    roles: string | readonly string[] = 'member',
    ttlSeconds?: number,
  ): Promise<string> {
    const args = ['token', 'create', '--project', projectId, '--user', userId, '--role'];
    args.push(...(typeof roles === 'string' ? [roles] : roles));
    if (ttlSeconds !== undefined) args.push('--ttl', String(ttlSeconds));
    const made = await this.cli(args);
    if (made.code !== 0) throw new Error(`token create failed (${made.code}): ${made.stderr}`);
    return (JSON.parse(made.stdout) as { token: string }).token;
  }

  /** The stored events, read from the log file with a read-only connection. */
  events(): StoredEventRow[] {
    const db = new Database(join(this.dataDir, 'events.sqlite'), {
      readonly: true,
      fileMustExist: true,
    });
    try {
      return db
        .prepare('SELECT position, stream_name, type, data, metadata FROM events ORDER BY position')
        .all() as StoredEventRow[];
    } finally {
      db.close();
    }
  }

  /** Rows of a view table, read-only. */
  viewRows<T>(sql: string, ...params: unknown[]): T[] {
    const db = new Database(join(this.dataDir, 'views.sqlite'), {
      readonly: true,
      fileMustExist: true,
    });
    try {
      return db.prepare(sql).all(...params) as T[];
    } finally {
      db.close();
    }
  }

  /**
   * Syncs libvirt now (POST /v1/admin/instances/sync) and returns the uuids of the instances
   * snapledger knows afterwards: registered by this sync, or already by the lifecycle
   * follower, which registers a domain as soon as libvirt reports it defined.
   */
  async syncInstances(): Promise<string[]> {
    const sync = await this.api<{ registered: string[] }>('POST', '/v1/admin/instances/sync');
    if (sync.status !== 200) throw new Error(`sync answered ${sync.status}`);
    const known = await this.api<{ instances: { id: string }[] }>('GET', '/v1/instances');
    return known.body.instances.map((i) => i.id);
  }

  /** Polls the snapshot history until the snapshot settles (active or killed, task released). */
  async waitForSnapshot(
    instanceId: string,
    imageId: string,
    timeoutMs = 120_000,
  ): Promise<SnapshotRow> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const res = await this.api<{ snapshots: SnapshotRow[] }>(
        'GET',
        `/v1/instances/${instanceId}/snapshots`,
      );
      const row = res.body.snapshots?.find((s) => s.image_id === imageId);
      if (row && row.result !== 'running' && row.task_state === null) return row;
      if (Date.now() > deadline)
        throw new Error(
          `snapshot ${imageId} did not settle: ${JSON.stringify(row)}\n${this.output.slice(-4000)}`,
        );
      await delay(200);
    }
  }
}

export interface SnapshotRow {
  image_id: string;
  result: 'running' | 'active' | 'killed' | 'deleted';
  task_state: string | null;
  mode: string | null;
  progress: number | null;
  failed_step: string | null;
  failure_reason: string | null;
  steps: { step: string; startedAt: string; finishedAt: string; durationMs: number }[];
  finished_at: string | null;
  downtime_ms: number | null;
  downtime_intervals: {
    source: 'save' | 'libvirt';
    cause: string;
    started_at: string;
    ended_at: string | null;
    ongoing: boolean;
  }[];
  guest_frozen_ms: number | null;
  request_id: string;
}
