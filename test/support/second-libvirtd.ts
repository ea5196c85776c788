import { spawn } from 'node:child_process';
import { appendFile, cp, mkdir, mkdtemp, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { waitFor, waitForExit } from './libvirtd-control';

/**
 * A second libvirtd on this machine, standing in for a second hypervisor host: it runs in
 * its own mount namespace (`unshare -m`), where /run/libvirt, /var/lib/libvirt,
 * /etc/libvirt, /var/cache/libvirt and /var/log/libvirt are bind-mounted from a temporary
 * directory. It therefore has its own socket, its own domain definitions, managed-save
 * files and QEMU processes, and knows nothing of the host's libvirtd (and the reverse).
 * QEMU's logs go to files (stdio_handler "file"): there is no virtlogd in that namespace.
 *
 * Reached from outside at qemu+unix:///system?socket=<dir>/run/libvirt-sock. Stopped by its
 * PID (from its pid file), after its domains are removed.
 */
export interface SecondLibvirtd {
  readonly uri: string;
  readonly pid: number;
  stop(): Promise<void>;
}

const BOUND = [
  '/run/libvirt',
  '/var/lib/libvirt',
  '/etc/libvirt',
  '/var/cache/libvirt',
  '/var/log/libvirt',
];

export async function startSecondLibvirtd(): Promise<SecondLibvirtd> {
  const root = await mkdtemp(join(tmpdir(), 'snapledger-libvirtd-'));
  const dirs = BOUND.map((target) => ({ target, source: join(root, target.replaceAll('/', '_')) }));
  for (const { source } of dirs) await mkdir(source, { recursive: true, mode: 0o755 });
  const etc = dirs.find((d) => d.target === '/etc/libvirt')!.source;
  await cp('/etc/libvirt', etc, { recursive: true });
  await appendFile(join(etc, 'qemu.conf'), '\nstdio_handler = "file"\n');
  const pidFile = join(root, 'libvirtd.pid');
  // A process that only holds the new mount namespace open while it is set up.
  const holder = spawn('unshare', ['--mount', '--propagation', 'private', 'sleep', 'infinity'], {
    stdio: 'ignore',
  });
  const holderPid = holder.pid;
  if (holderPid === undefined) throw new Error('could not start unshare');
  const runDir = dirs.find((d) => d.target === '/run/libvirt')!.source;
  const uri = `qemu+unix:///system?socket=${join(runDir, 'libvirt-sock')}`;
  const answers = async () =>
    (await execa('virsh', ['-c', uri, 'uri'], { reject: false, timeout: 10_000 })).exitCode === 0;
  try {
    const own = await readlink('/proc/self/ns/mnt');
    await waitFor('unshare to enter its namespace', async () => {
      try {
        return (await readlink(`/proc/${holderPid}/ns/mnt`)) !== own;
      } catch {
        return false;
      }
    });
    const inside = (args: string[]) =>
      execa('nsenter', ['--target', String(holderPid), '--mount', ...args]);
    for (const { source, target } of dirs) await inside(['mount', '--bind', source, target]);
    await inside(['libvirtd', '--daemon', '--pid-file', pidFile]);
    await waitFor('the second libvirtd to answer', answers, 30_000);
  } finally {
    // libvirtd (and the QEMUs it starts) keep the namespace alive without it.
    process.kill(holderPid, 'SIGKILL');
  }
  const pid = Number((await readFile(pidFile, 'utf8')).trim());
  return {
    uri,
    pid,
    async stop() {
      try {
        process.kill(pid, 'SIGTERM');
        await waitForExit(pid, 'the second libvirtd', 30_000);
      } catch {
        // already gone
      }
      await rm(root, { recursive: true, force: true });
    },
  };
}
