import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SnapledgerConfig } from '../config/snapledger.config';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`HTTP ${status}: ${JSON.stringify(body)}`);
    this.name = 'ApiError';
  }
}

/** The token the CLI uses: --token, then SNAPLEDGER_TOKEN, then <data dir>/admin-token. */
export function resolveToken(config: SnapledgerConfig, explicit?: string): string {
  const token = explicit ?? process.env.SNAPLEDGER_TOKEN;
  if (token) return token;
  try {
    return readFileSync(join(config.dataDir, 'admin-token'), 'utf8').trim();
  } catch {
    throw new Error(
      `no token: pass --token, set SNAPLEDGER_TOKEN, or start the service once to create ${join(config.dataDir, 'admin-token')}`,
    );
  }
}

/** A small JSON client for the snapledger API (Node's fetch). */
export class ApiClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string,
  ) {}

  async request<T>(
    method: string,
    path: string,
    options: { body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; body: T; headers: Headers }> {
    const res = await fetch(new URL(path, this.baseUrl), {
      method,
      headers: {
        'X-Auth-Token': this.token,
        Accept: 'application/json',
        ...(options.body === undefined ? {} : { 'Content-Type': 'application/json' }),
        ...options.headers,
      },
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
    });
    const text = await res.text();
    const body = (text ? JSON.parse(text) : undefined) as T;
    if (!res.ok) throw new ApiError(res.status, body);
    return { status: res.status, body, headers: res.headers };
  }

  /**
   * GET a streaming route (e.g. Server-Sent Events): the open response, whose body the
   * caller reads. A non-2xx answer is read and thrown as ApiError.
   */
  async openStream(path: string, accept: string, signal?: AbortSignal): Promise<Response> {
    const res = await fetch(new URL(path, this.baseUrl), {
      headers: { 'X-Auth-Token': this.token, Accept: accept },
      signal,
    });
    if (!res.ok) {
      const text = await res.text();
      let body: unknown = text;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON
      }
      throw new ApiError(res.status, body);
    }
    return res;
  }
}
