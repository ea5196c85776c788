import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { execa } from 'execa';
import { TEST_LIBVIRT_URI } from './test-domain';

/**
 * Stopping and starting the host's libvirtd (started by scripts/setup-host.sh as
 * `libvirtd -d`), by the PID in its pid file: for tests of what snapledger does while
 * libvirtd restarts. They disturb everything on the host, so such tests run last in their file
 * and start it again in afterAll whatever happened.
 */

/** Waits until `check` holds, polling every 25 ms. */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 60_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await delay(25);
  }
}

/** The PID of the host's libvirtd, from the pid file it writes; null when it is not running. */
export function libvirtdPid(): number | null {
  try {
    const pid = Number(readFileSync('/run/libvirtd.pid', 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) return null;
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

export async function libvirtAnswers(): Promise<boolean> {
  const r = await execa('virsh', ['-c', TEST_LIBVIRT_URI, 'uri'], {
    reject: false,
    timeout: 10_000,
  });
  return r.exitCode === 0;
}

/** SIGTERM to libvirtd by its PID, then waits until it has exited. */
export async function stopLibvirtd(): Promise<void> {
  const pid = libvirtdPid();
  if (pid === null) throw new Error('libvirtd is not running');
  process.kill(pid, 'SIGTERM');
  await waitForExit(pid, 'libvirtd');
}

/** Waits until the process `pid` is gone (signal 0 finds no such process). */
export async function waitForExit(pid: number, what: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    `${what} (pid ${pid}) to exit`,
    () => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    },
    timeoutMs,
  );
}

export async function startLibvirtd(): Promise<void> {
  if (libvirtdPid() === null) await execa('libvirtd', ['-d']);
  await waitFor('libvirtd to answer', libvirtAnswers, 30_000);
}
