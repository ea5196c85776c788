/**
 * A stretch in which a snapshot's domain was down, as the history keeps it: from the cold
 * path's own save and restore (`save`), or from libvirt's lifecycle events (`libvirt`).
 */
export interface DowntimeRecord {
  readonly source: 'save' | 'libvirt';
  readonly cause: string;
  readonly startedAt: string;
  /** null while it is still open (a save not yet restored). */
  readonly endedAt: string | null;
  /** The domain was still down when the snapshot ended. */
  readonly ongoing: boolean;
}

/**
 * The domain's downtime: the length of the union of the closed stretches, so that the
 * save's own record and libvirt's view of the same save count once.
 */
export function downtimeMsOf(records: readonly DowntimeRecord[]): number {
  const spans = records
    .filter((r) => r.endedAt !== null)
    .map((r) => [Date.parse(r.startedAt), Date.parse(r.endedAt as string)] as const)
    .filter(([start, end]) => Number.isFinite(start) && Number.isFinite(end) && end > start)
    .sort((a, b) => a[0] - b[0]);
  let total = 0;
  let current: [number, number] | null = null;
  for (const [start, end] of spans) {
    if (current === null || start > current[1]) {
      if (current !== null) total += current[1] - current[0];
      current = [start, end];
    } else if (end > current[1]) {
      current[1] = end;
    }
  }
  if (current !== null) total += current[1] - current[0];
  return total;
}
