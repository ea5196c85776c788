import { readFileSync } from 'node:fs';

/**
 * The kernel's id for this boot of the host. Data that was written but not yet fsynced
 * survives a crash of the process (it is in the page cache), but not a reboot: comparing
 * boot ids tells the two apart.
 */
export function readBootId(path = '/proc/sys/kernel/random/boot_id'): string {
  return readFileSync(path, 'utf8').trim();
}
