/**
 * Opaque paging cursors: base64url of a small JSON array naming the last row returned.
 * Clients must not build them; the server checks their shape when they come back.
 */

/** Encodes a keyset position (e.g. [position] or [requestedAt, imageId]) as a cursor. */
export function encodeCursor(key: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(key), 'utf8').toString('base64url');
}

/**
 * Decodes a cursor into its key, or null when it is not one this server made (bad base64,
 * bad JSON, not an array of `arity` strings/numbers).
 */
export function decodeCursor(cursor: string, arity: number): (string | number)[] | null {
  if (!/^[A-Za-z0-9_-]{1,512}$/.test(cursor)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    return null;
  }
  if (!Array.isArray(parsed) || parsed.length !== arity) return null;
  const key = parsed as unknown[];
  if (!key.every((v) => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))))
    return null;
  return key as (string | number)[];
}
