/**
 * The page's only way to the service: snapledger's own REST API, on the same origin, with
 * the signed-in user's token in X-Auth-Token. What the token may not see, the API does not
 * return; the page adds no scoping of its own.
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The message of a native, Nova or Glance error body, or the status line. */
async function errorMessage(res: Response): Promise<string> {
  const text = await res.text();
  try {
    const body = JSON.parse(text) as Record<string, unknown>;
    const inner = Object.values(body).find(
      (v): v is { message: string } =>
        typeof v === 'object' &&
        v !== null &&
        typeof (v as { message?: unknown }).message === 'string',
    );
    if (inner) return inner.message;
    if (typeof body.message === 'string') return body.message;
  } catch {
    // not JSON: fall through to the status line
  }
  return `${res.status} ${res.statusText}`;
}

export async function request(
  token: string,
  path: string,
  init: RequestInit = {},
): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set('X-Auth-Token', token);
  headers.set('Accept', 'application/json');
  const res = await fetch(path, { ...init, headers });
  if (!res.ok) throw new ApiError(res.status, await errorMessage(res));
  return res;
}

export async function getJson<T>(token: string, path: string): Promise<T> {
  return (await (await request(token, path)).json()) as T;
}

export async function sendJson<T>(
  token: string,
  path: string,
  method: 'POST' | 'PUT',
  body: unknown,
  headers: Record<string, string> = {},
): Promise<T> {
  const res = await request(token, path, {
    method,
    headers: { 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return (text === '' ? {} : JSON.parse(text)) as T;
}

/** A path with a query string from the defined, non-empty values. */
export function withQuery(path: string, params: Record<string, string | undefined>): string {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params))
    if (value !== undefined && value !== '') query.set(key, value);
  const text = query.toString();
  return text === '' ? path : `${path}?${text}`;
}

export interface Instance {
  id: string;
  name: string;
  project_id: string;
  vm_state: string;
  power_state: number | string;
  task_state: string | null;
  disk_format: string | null;
  vcpus: number | null;
  memory_mib: number | null;
  host: string | null;
  updated_at: string;
}

export interface SnapshotStep {
  step: string;
  startedAt: string;
  finishedAt: string;
  durationMs: number;
}

export interface Snapshot {
  image_id: string;
  image_name: string;
  image_type: string;
  instance_id: string;
  user_id: string;
  user_name: string | null;
  request_id: string;
  mode: string | null;
  result: string;
  task_state: string | null;
  progress: number | null;
  failed_step: string | null;
  failure_reason: string | null;
  steps: SnapshotStep[];
  downtime_ms: number | null;
  backup: { kind: string; chain_length: number | null; bytes_stored: number | null } | null;
  requested_at: string;
  finished_at: string | null;
  duration_ms: number | null;
}

export interface AuditEntry {
  position: number;
  event_id: string;
  stream: string;
  type: string;
  occurred_at: string;
  user_id: string | null;
  user_name: string | null;
  actor_project_id: string | null;
  actor_roles: string[];
  request_id: string | null;
  correlation_id: string | null;
  causation_id: string | null;
  instance_id: string | null;
  image_id: string | null;
  project_id: string | null;
  summary: string;
  data: unknown;
}

export interface AuditPage {
  audit: AuditEntry[];
  next_cursor: string | null;
}

export interface GlanceImage {
  id: string;
  name: string | null;
  status: string;
  size: number | null;
  disk_format: string | null;
  created_at: string;
  updated_at: string;
  owner: string | null;
  instance_uuid?: string;
  image_type?: string;
  checksum: string | null;
}

export interface LogVerification {
  supported: boolean;
  running: { started_at: string; verified: number; last_position: number } | null;
  last: {
    ok: boolean;
    verified: number;
    last_position: number;
    head: string | null;
    break: { position: number; kind: string; detail: string | null } | null;
    started_at: string;
    finished_at: string;
    duration_ms: number;
    source: 'service' | 'cli';
    requested_by: string | null;
  } | null;
  error: string | null;
}
