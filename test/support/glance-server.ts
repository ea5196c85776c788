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
  /** GET /v2/images/{id}: the image, or null on 404. */
  image(id: string): Promise<Record<string, unknown> | null>;
  /** The image's data as Glance serves it. */
  download(id: string): Promise<Buffer>;
  stop(): Promise<void>;
}

const GLANCE_API = '/usr/bin/glance-api';

export async function startGlance(): Promise<GlanceServer> {
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
      'flavor =',
      'config_file = /etc/glance/glance-api-paste.ini',
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
    async image(id) {
      const res = await fetch(`${url}/v2/images/${id}`);
      if (res.status === 404) return null;
      if (!res.ok) throw new Error(`Glance GET image ${id}: ${res.status}`);
      return (await res.json()) as Record<string, unknown>;
    },
    async download(id) {
      const res = await fetch(`${url}/v2/images/${id}/file`);
      if (res.status !== 200) throw new Error(`Glance download ${id}: ${res.status}`);
      return Buffer.from(await res.arrayBuffer());
    },
    stop,
  };
}

async function waitUntilUp(url: string, child: ChildProcess): Promise<void> {
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`glance-api exited with ${child.exitCode}`);
    try {
      const res = await fetch(`${url}/v2/images`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await delay(200);
  }
  throw new Error('glance-api did not answer within 60 s');
}
