import type { LifecycleEvent } from './domain-lifecycle.port';

/**
 * One line of `virsh event --loop --timestamp`, e.g.
 * `2026-12-04 17:13:55.715+0000: event 'lifecycle' for domain 'demo': Suspended Paused`.
 * Other event kinds, and the indented continuation lines some of them print, are not
 * lifecycle events: null.
 */
const LIFECYCLE_LINE =
  /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}(?:\.\d+)?)([+-]\d{2})(\d{2}): event 'lifecycle' for domain '(.*)': (\S+)(?: (.*))?$/;

export function parseLifecycleLine(line: string): LifecycleEvent | null {
  const match = LIFECYCLE_LINE.exec(line.trimEnd());
  if (!match) return null;
  const [, date, time, zoneHours, zoneMinutes, domain, event, detail] = match;
  const at = new Date(`${date}T${time}${zoneHours}:${zoneMinutes}`);
  if (Number.isNaN(at.getTime())) return null;
  return { at, domain, event, detail: detail?.trim() ?? '' };
}
