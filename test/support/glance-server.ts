import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { execa } from 'execa';
import { freePort } from './service-process';

/**
 * A throwaway Glance for tests: Debian's glance-api (Glance 25) on 127.0.0.1 and a random
 * port, with its own SQLite database and file store in a temp directory, and no auth
 * (`[paste_deploy] flavor =`, so every request acts as an admin). Stopped by its PID.
 */
export interface GlanceServer {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** The file store's directory: one file per image, named by its id. */
  readonly storeDir: string;
  /** GET /v2/images/{id}: the image, or null on 404 (with `token` as X-Auth-Token, if any). */
  image(id: string, token?: string): Promise<Record<string, unknown> | null>;
  /** The image's data as Glance serves it. */
  download(id: string, token?: string): Promise<Buffer>;
  stop(): Promise<void>;
}

const GLANCE_API = '/usr/bin/glance-api';

/**
 * Keystone for Glance's own auth_token middleware (`[paste_deploy] flavor = keystone`): it
 * validates every X-Auth-Token there, signing in as `username` to do so. Token validations
 * are not cached, so a revoked token is refused at once.
 */
export interface GlanceKeystone {
  /** Keystone's v3 endpoint, e.g. a snapledger's http://127.0.0.1:PORT/identity/v3. */
  readonly authUrl: string;
  readonly username: string;
  readonly password: string;
  readonly project: string;
}

export async function startGlance(
  options: { keystone?: GlanceKeystone } = {},
): Promise<GlanceServer> {
  const keystone = options.keystone;
  const dir = await mkdtemp(join(tmpdir(), 'sl-glance-'));
  const storeDir = join(dir, 'store');
  await mkdir(storeDir);
  const port = await freePort();
  const config = join(dir, 'glance-api.conf');
  await writeFile(
    config,
    [
      '[DEFAULT]',
      'bind_host = 127.0.0.1',
      `bind_port = ${port}`,
      'workers = 1',
      `log_file = ${join(dir, 'glance-api.log')}`,
      '[database]',
      `connection = sqlite:///${join(dir, 'glance.sqlite')}`,
      '[paste_deploy]',
      keystone ? 'flavor = keystone' : 'flavor =',
      'config_file = /etc/glance/glance-api-paste.ini',
      ...(keystone
        ? [
            '[keystone_authtoken]',
            `www_authenticate_uri = ${keystone.authUrl}`,
            `auth_url = ${keystone.authUrl}`,
            'auth_type = password',
            `username = ${keystone.username}`,
            `password = ${keystone.password}`,
            `project_name = ${keystone.project}`,
            'user_domain_name = Default',
            'project_domain_name = Default',
            'token_cache_time = -1',
          ]
        : []),
      '[glance_store]',
      'stores = file',
      'default_store = file',
      `filesystem_store_datadir = ${storeDir}/`,
      '',
    ].join('\n'),
  );
  await execa('glance-manage', ['--config-file', config, 'db_sync'], {
    timeout: 120_000,
    stdin: 'ignore',
  });
  const child: ChildProcess = spawn(GLANCE_API, ['--config-file', config], {
    stdio: 'ignore',
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, delay(10_000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await waitUntilUp(url, child);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    storeDir,
    async image(id, token) {
      const res = await fetch(`${url}/v2/images/${id}`, { headers: authHeader(token) });
      if (res.status === 404) return null;
      if (!res.ok) throw new Error(`Glance GET image ${id}: ${res.status}`);
      return (await res.json()) as Record<string, unknown>;
    },
    async download(id, token) {
      const res = await fetch(`${url}/v2/images/${id}/file`, { headers: authHeader(token) });
      if (res.status !== 200) throw new Error(`Glance download ${id}: ${res.status}`);
      return Buffer.from(await res.arrayBuffer());
    },
    stop,
  };
}

const authHeader = (token?: string): Record<string, string> =>
  token ? { 'X-Auth-Token': token } : {};

async function waitUntilUp(url: string, child: ChildProcess): Promise<void> {
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`glance-api exited with ${child.exitCode}`);
    try {
      const res = await fetch(`${url}/v2/images`);
      // Up: listing (noauth), or asking for a token (keystone).
      if (res.ok || res.status === 401) return;
    } catch {
      // not listening yet
    }
    await delay(200);
  }
  throw new Error('glance-api did not answer within 60 s');
}
