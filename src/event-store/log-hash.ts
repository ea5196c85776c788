import { createHash } from 'node:crypto';
import canonicalize from 'canonicalize';

/**
 * The hash chain over the global log (docs/reliability.md, "The hash chain").
 *
 * Each event's hash is
 *
 *     sha256_hex( previous + "\n" + position + "\n" + revision + "\n" + content )
 *
 * where `previous` is the hash of the event at position - 1 (64 zeros for position 1),
 * position and revision are decimal integers, and `content` is
 *
 *     sha256_hex( JCS({ "data": data, "metadata": metadata, "stream": stream, "type": type }) )
 *
 * with JCS the JSON Canonicalization Scheme of RFC 8785 (sorted keys, no white space,
 * ECMAScript number form). The metadata holds the event id, actor, request and correlation
 * ids, the time it happened (occurredAt) and the event's schema version, so the hash covers
 * all of them. The two levels let PostgreSQL compute the outer hash inside its append
 * function, under the append lock, from a content digest the client computed.
 */
export const GENESIS_HASH = '0'.repeat(64);

export interface HashedContent {
  readonly streamName: string;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: unknown;
}

const sha256Hex = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** The digest of an event's stream, type, data and metadata (the inner hash). */
export function contentDigest(content: HashedContent): string {
  const canonical = canonicalize({
    data: content.data,
    metadata: content.metadata,
    stream: content.streamName,
    type: content.type,
  });
  if (canonical === undefined) throw new TypeError('the event cannot be canonicalised');
  return sha256Hex(canonical);
}

/** The digest of a stored row, whose data and metadata are JSON text. */
export function storedContentDigest(
  streamName: string,
  type: string,
  data: string,
  metadata: string,
): string {
  return contentDigest({
    streamName,
    type,
    data: JSON.parse(data) as unknown,
    metadata: JSON.parse(metadata) as unknown,
  });
}

/** The event's link in the chain: its hash (the outer hash). */
export function chainHash(
  previous: string,
  position: number,
  revision: number,
  digest: string,
): string {
  return sha256Hex(`${previous}\n${position}\n${revision}\n${digest}`);
}

/** `<position>:<hash>`: the head an auditor keeps, and gives back to `verify --expect-head`. */
export interface LogHead {
  readonly position: number;
  readonly hash: string;
}

export function formatHead(head: LogHead): string {
  return `${head.position}:${head.hash}`;
}

/** Parses `<position>:<hash>`; throws a RangeError that says what is wrong. */
export function parseHead(text: string): LogHead {
  const match = /^(\d{1,15}):([0-9a-f]{64})$/.exec(text.trim());
  if (!match) {
    throw new RangeError(
      `a head is <position>:<64 hex digits>, as verify --export-head prints it; got ${JSON.stringify(text)}`,
    );
  }
  const position = Number(match[1]);
  if (position < 1) throw new RangeError('a head position is 1 or more');
  return { position, hash: match[2] ?? '' };
}
