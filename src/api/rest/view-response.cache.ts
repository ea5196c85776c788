import { createHash } from 'node:crypto';

/** A response body serialised once, with its entity tag. */
export interface CachedResponse {
  readonly body: Buffer;
  readonly etag: string;
}

/**
 * Serialised JSON responses of a read-model route, valid for one projection position: the
 * views change only when the projection runner applies an event, so a page built at
 * position P is exact for as long as the runner stays at P. Asking with another position
 * empties the cache. Concurrent misses of one key share a single build. Holds at most
 * `maxEntries` responses (oldest dropped first).
 *
 * Keys must include everything the response depends on: the caller's scope (admin or
 * project), the resource id and the query string.
 */
export class ViewResponseCache {
  private version = -1;
  private readonly entries = new Map<string, Promise<CachedResponse>>();

  constructor(private readonly maxEntries = 256) {}

  get(position: number, key: string, build: () => Promise<unknown>): Promise<CachedResponse> {
    if (position !== this.version) {
      this.entries.clear();
      this.version = position;
    }
    const hit = this.entries.get(key);
    if (hit) return hit;
    const built = build().then((value) => {
      const body = Buffer.from(JSON.stringify(value), 'utf8');
      return { body, etag: `"${createHash('sha1').update(body).digest('base64url')}"` };
    });
    if (this.entries.size >= this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (!oldest.done) this.entries.delete(oldest.value);
    }
    this.entries.set(key, built);
    built.catch(() => {
      if (this.entries.get(key) === built) this.entries.delete(key);
    });
    return built;
  }
}
