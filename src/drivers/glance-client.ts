import { createReadStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { ImageRecord, UploadProgress } from './image-store.port';

/** Glance's image statuses (its v2 API). */
export type GlanceStatus =
  | 'queued'
  | 'saving'
  | 'uploading'
  | 'importing'
  | 'active'
  | 'killed'
  | 'deleted'
  | 'pending_delete'
  | 'deactivated';

/** The fields of a Glance image that snapledger reads back. */
export interface GlanceImage {
  readonly id: string;
  readonly status: GlanceStatus;
  readonly size: number | null;
  readonly checksum: string | null;
  readonly os_hash_algo: string | null;
  readonly os_hash_value: string | null;
}

/** Glance refused the request (a 4xx other than a timeout): trying again will not help. */
export class GlanceRefusedError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'GlanceRefusedError';
  }
}

/** Glance could not be reached, or answered 5xx, 408 or 429: worth trying again. */
export class GlanceUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GlanceUnavailableError';
  }
}

/** Where GlanceClient gets its X-Auth-Token, and how it says that Glance refused one. */
export interface GlanceAuth {
  /** A refused token can be replaced by a new one (a Keystone sign-in), so a retry may help. */
  readonly renewable: boolean;
  token(): Promise<string | null>;
  /** Glance answered 401 to this token: the next token() must not return it. */
  rejected(token: string): void;
}

/** A fixed token (SNAPLEDGER_GLANCE_TOKEN), or none for a noauth or trusted Glance. */
export function fixedGlanceToken(token: string | null): GlanceAuth {
  return { renewable: false, token: async () => token, rejected: () => undefined };
}

/** How long a metadata request may take before it counts as Glance being unavailable. */
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * The few calls of Glance's v2 API that an image store needs, over Node's fetch. It sends
 * `X-Auth-Token` when `auth` gives it a token (a fixed one, or a Keystone session's); without
 * one it relies on Glance's noauth or trusted pipeline. A 401 is told to `auth`, and with a
 * renewable `auth` the request is sent once more with the next token (a Keystone token
 * revoked or expired early).
 * Image ids are uuids checked by the caller, and are the only thing put in a URL.
 */
export class GlanceClient {
  private readonly base: string;

  constructor(
    baseUrl: string,
    private readonly auth: GlanceAuth,
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
  }

  /** The image, or null when Glance does not know it (404). */
  async get(imageId: string): Promise<GlanceImage | null> {
    const res = await this.send('GET', `/v2/images/${imageId}`, { accept: [200, 404] });
    if (res.status === 404) return null;
    return (await res.json()) as GlanceImage;
  }

  /**
   * Creates the image record (queued, no data) with the id snapledger chose, the owner, and
   * the properties Nova sets. Glance's properties are strings at the top level of the body.
   */
  async create(record: ImageRecord): Promise<GlanceImage> {
    const body = {
      ...record.properties,
      id: record.imageId,
      name: record.name,
      disk_format: record.diskFormat,
      container_format: record.containerFormat,
      visibility: record.visibility,
      owner: record.projectId,
    };
    const res = await this.send('POST', '/v2/images', {
      accept: [201],
      json: body,
    });
    return (await res.json()) as GlanceImage;
  }

  /**
   * Streams the file to `PUT /v2/images/{id}/file`, reporting the bytes sent. Glance computes
   * its checksum and os_hash_value as the data arrives.
   */
  async upload(
    imageId: string,
    path: string,
    totalBytes: number,
    onProgress?: UploadProgress,
    signal?: AbortSignal,
  ): Promise<void> {
    const opened: { destroy(): void }[] = [];
    // A stream per send: a request sent again after a refused token reads the file afresh.
    const body = () => {
      let sent = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _encoding, done) {
          sent += chunk.length;
          onProgress?.(sent, totalBytes);
          done(null, chunk);
        },
      });
      const source = createReadStream(path);
      source.on('error', (error) => counter.destroy(error));
      source.pipe(counter);
      opened.push(source, counter);
      return Readable.toWeb(counter) as unknown as ReadableStream<Uint8Array>;
    };
    try {
      await this.send('PUT', `/v2/images/${imageId}/file`, {
        accept: [204],
        headers: { 'Content-Type': 'application/octet-stream' },
        body,
        signal,
        noTimeout: true,
      });
    } finally {
      for (const stream of opened) stream.destroy();
    }
  }

  /** The image's data, or one byte range of it, as a stream. */
  async download(imageId: string, range?: { start: number; end: number }): Promise<Readable> {
    const res = await this.send('GET', `/v2/images/${imageId}/file`, {
      accept: range ? [206] : [200],
      headers: range ? { Range: `bytes=${range.start}-${range.end}` } : {},
      noTimeout: true,
    });
    if (!res.body) throw new GlanceUnavailableError(`Glance sent no data for image ${imageId}`);
    return Readable.fromWeb(res.body as unknown as WebReadableStream<Uint8Array>);
  }

  /** Deletes the image; true when it existed. */
  async delete(imageId: string): Promise<boolean> {
    const res = await this.send('DELETE', `/v2/images/${imageId}`, { accept: [204, 404] });
    return res.status === 204;
  }

  private async send(
    method: string,
    path: string,
    options: {
      accept: readonly number[];
      json?: unknown;
      /** A streamed body, made anew for each time the request is sent. */
      body?: () => ReadableStream<Uint8Array>;
      headers?: Record<string, string>;
      signal?: AbortSignal;
      noTimeout?: boolean;
    },
    sentBefore = false,
  ): Promise<Response> {
    const headers: Record<string, string> = { ...options.headers };
    const token = await this.auth.token();
    if (token) headers['X-Auth-Token'] = token;
    if (options.json !== undefined) headers['Content-Type'] = 'application/json';
    const signals = [
      ...(options.signal ? [options.signal] : []),
      ...(options.noTimeout ? [] : [AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
    ];
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        headers,
        body: options.json !== undefined ? JSON.stringify(options.json) : options.body?.(),
        signal: signals.length > 0 ? AbortSignal.any(signals) : undefined,
        // A streamed request body needs half-duplex (Node's fetch requires saying so).
        ...(options.body ? { duplex: 'half' } : {}),
      } as RequestInit);
    } catch (error) {
      if (options.signal?.aborted) throw error;
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
      throw new GlanceUnavailableError(
        `Glance at ${this.base} could not be reached (${method} ${path}): ${cause instanceof Error ? cause.message : String(cause)}`,
      );
    }
    if (options.accept.includes(res.status)) return res;
    if (res.status === 401 && token) {
      this.auth.rejected(token);
      if (this.auth.renewable && !sentBefore) {
        await res.body?.cancel().catch(() => undefined);
        return this.send(method, path, options, true);
      }
    }
    const text = await res.text().catch(() => '');
    const message = `Glance answered ${res.status} to ${method} ${path}: ${plainText(text)}`;
    if (res.status >= 500 || res.status === 408 || res.status === 429) {
      throw new GlanceUnavailableError(message);
    }
    throw new GlanceRefusedError(res.status, message);
  }
}

/** Glance's error bodies are small HTML pages: their text, on one line, cut short. */
function plainText(body: string): string {
  const text = body
    .replace(/<[^>]*>/g, ' ')
    .replace(/&#x27;|&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > 300 ? `${text.slice(0, 300)}…` : text || '(no body)';
}
