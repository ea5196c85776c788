/** Display helpers shared by the views. */

export function duration(ms: number | null): string {
  if (ms === null) return '—';
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`;
}

export function when(iso: string | null): string {
  if (iso === null) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString();
}

export function bytes(n: number | null): string {
  if (n === null) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

/** A user as the log recorded them: "name (id)" when a name was recorded, else the id. */
export function who(userId: string | null, userName: string | null | undefined): string {
  if (userId === null) return 'system';
  return userName ? `${userName} (${userId})` : userId;
}

export const count = (n: number): string => n.toLocaleString('en-US');

/** Nova's power_state numbers, as `openstack server show` names them. */
const POWER_STATES: Record<string, string> = {
  '0': 'NOSTATE',
  '1': 'Running',
  '3': 'Paused',
  '4': 'Shutdown',
  '6': 'Crashed',
  '7': 'Suspended',
};

export const powerState = (value: number | string): string =>
  POWER_STATES[String(value)] ?? String(value);
