import { readFile, readdir } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { ServiceProcess } from '../support/service-process';

/** The PIDs whose parent is `parent`, with their command lines, read from /proc. */
async function childrenOf(parent: number): Promise<{ pid: number; cmdline: string }[]> {
  const found: { pid: number; cmdline: string }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // The parent PID is the 2nd field after the command name in parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== parent) continue;
      const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0').join(' ');
      found.push({ pid: Number(entry), cmdline });
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('a service killed with SIGKILL', () => {
  let service: ServiceProcess;

  afterAll(async () => {
    await service?.dispose();
  });

  it('leaves no `virsh event` of its own behind (it would pile up in libvirtd)', async () => {
    service = await ServiceProcess.create();
    await service.start();
    const pid = service.pid;
    expect(pid).not.toBeNull();
    let watcher: number | undefined;
    for (let i = 0; i < 50 && watcher === undefined; i += 1) {
      watcher = (await childrenOf(pid!)).find((c) => / event --all --loop/.test(c.cmdline))?.pid;
      if (watcher === undefined) await delay(100);
    }
    expect(watcher, 'the service runs one virsh event').toBeDefined();
    await service.kill();
    // No libvirt event happens meanwhile, so nothing but the parent-death signal ends it.
    for (let i = 0; i < 30 && alive(watcher!); i += 1) await delay(100);
    const left = alive(watcher!);
    if (left) process.kill(watcher!, 'SIGKILL'); // ours: started by the service under test
    expect(left, 'virsh event outlived its service').toBe(false);
  });
});
