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

/** --url (or SNAPLEDGER_URL) is not an http(s) URL: a usage error. */
export class BadServiceUrlError extends Error {
  constructor(url: string) {
    super(
      `the service URL ${JSON.stringify(url)} is not an http:// or https:// URL (--url, SNAPLEDGER_URL)`,
    );
    this.name = 'BadServiceUrlError';
  }
}

/** Nothing answered at the service's URL: fetch's socket error, with where it tried. */
export class ServiceUnreachableError extends Error {
  constructor(where: string, cause: unknown) {
    const reason = (cause as { cause?: { message?: string } } | null)?.cause?.message;
    super(`cannot reach the service at ${where}${reason ? `: ${reason}` : ''}`);
    this.name = 'ServiceUnreachableError';
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
  private readonly baseUrl: URL;

  constructor(
    baseUrl: string,
    private readonly token: string,
  ) {
    const parsed = URL.canParse(baseUrl) ? new URL(baseUrl) : null;
    if (parsed === null || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:'))
      throw new BadServiceUrlError(baseUrl);
    this.baseUrl = parsed;
  }

  /** fetch, with a refused or unresolvable address said as such, naming the URL (no user info). */
  private async send(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(new URL(path, this.baseUrl), init);
    } catch (error) {
      if (error instanceof TypeError && error.message === 'fetch failed') {
        throw new ServiceUnreachableError(`${this.baseUrl.origin}${this.baseUrl.pathname}`, error);
      }
      throw error;
    }
  }

  async request<T>(
    method: string,
    path: string,
    options: { body?: unknown; headers?: Record<string, string> } = {},
  ): Promise<{ status: number; body: T; headers: Headers }> {
    const res = await this.send(path, {
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
    const res = await this.send(path, {
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
