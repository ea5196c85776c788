/** The version of the event-store schema this code writes (table snapledger_schema). */
export const POSTGRES_EVENT_STORE_SCHEMA_VERSION = 4;

/**
 * Appends take this transaction-level advisory lock first. Holding it until commit makes
 * appends commit in position order, so a reader never sees position p+1 before p commits:
 * a position a reader has passed can never be filled in later.
 */
export const APPEND_LOCK_KEY = 0x736e6170; // 'snap'

/** Appends wake subscribers with NOTIFY on this channel; the payload is the last position. */
export const APPEND_CHANNEL = 'snapledger_events';

/**
 * The SQLSTATE snapledger_append raises when the stream is not at the expected revision;
 * the error's DETAIL is the stream's actual last revision, or `no_stream`.
 */
export const WRONG_EXPECTED_REVISION_SQLSTATE = 'SL409';

/**
 * The SQLSTATE snapledger_append raises when the head of the log has no hash yet: a log
 * written before the hash chain is being migrated (postgres-event-store.ts, backfillHashes).
 */
export const LOG_NOT_HASHED_SQLSTATE = 'SL503';

/** Version 1: the table, its unique keys, and the triggers that make it append-only. */
const EVENTS_TABLE = `
CREATE TABLE IF NOT EXISTS snapledger_schema (
  component text PRIMARY KEY,
  version   integer NOT NULL
);

CREATE TABLE IF NOT EXISTS events (
  position        bigint PRIMARY KEY CHECK (position > 0),
  event_id        text   NOT NULL UNIQUE,
  stream_name     text   NOT NULL,
  stream_revision bigint NOT NULL CHECK (stream_revision >= 0),
  type            text   NOT NULL,
  data            text   NOT NULL,
  metadata        text   NOT NULL,
  UNIQUE (stream_name, stream_revision)
);

CREATE OR REPLACE FUNCTION snapledger_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'events are append-only: % is not allowed', TG_OP
    USING ERRCODE = 'restrict_violation';
END
$$;

DROP TRIGGER IF EXISTS events_append_only ON events;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON events
  FOR EACH ROW EXECUTE FUNCTION snapledger_events_append_only();

DROP TRIGGER IF EXISTS events_no_truncate ON events;
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
  FOR EACH STATEMENT EXECUTE FUNCTION snapledger_events_append_only();
`;

/**
 * Version 2: the whole append as one server-side call, so an append is one round trip
 * (it was six: BEGIN, lock, heads, INSERT, NOTIFY, COMMIT). Called outside an explicit
 * transaction, the statement is its own transaction: the advisory lock is held until it
 * commits, and the NOTIFY is delivered at that commit.
 *
 * p_expected is the stream's expected last revision with p_expect: 'exact' (that
 * revision), 'no_stream' (the stream must not exist) or 'any' (no check).
 */
const APPEND_FUNCTION = `
CREATE OR REPLACE FUNCTION snapledger_append(
  p_stream text, p_expect text, p_expected bigint,
  p_ids text[], p_types text[], p_data text[], p_metadata text[]
) RETURNS TABLE (next_revision bigint, last_position bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_last bigint;
  v_head bigint;
  v_count integer := coalesce(cardinality(p_ids), 0);
BEGIN
  PERFORM pg_advisory_xact_lock(${APPEND_LOCK_KEY});
  SELECT max(stream_revision) INTO v_last FROM events WHERE stream_name = p_stream;
  IF (p_expect = 'no_stream' AND v_last IS NOT NULL)
     OR (p_expect = 'exact' AND v_last IS DISTINCT FROM p_expected) THEN
    RAISE EXCEPTION 'wrong expected revision on %', p_stream
      USING ERRCODE = '${WRONG_EXPECTED_REVISION_SQLSTATE}',
            DETAIL = coalesce(v_last::text, 'no_stream');
  END IF;
  SELECT coalesce(max(position), 0) INTO v_head FROM events;
  INSERT INTO events (position, event_id, stream_name, stream_revision, type, data, metadata)
    SELECT v_head + i, p_ids[i], p_stream, coalesce(v_last, -1) + i,
           p_types[i], p_data[i], p_metadata[i]
    FROM generate_subscripts(p_ids, 1) AS i;
  PERFORM pg_notify('${APPEND_CHANNEL}', (v_head + v_count)::text);
  RETURN QUERY SELECT coalesce(v_last, -1) + v_count, v_head + v_count;
END
$$;
`;

/**
 * Version 3: who holds each lease (src/database/advisory-lease.ts): the agent of each host,
 * the API process that keeps the views. Informative only; the locks themselves are
 * advisory locks, which the server drops with their connection.
 */
const LEASES_TABLE = `
CREATE TABLE IF NOT EXISTS snapledger_leases (
  name        text PRIMARY KEY,
  pid         integer     NOT NULL,
  machine     text        NOT NULL,
  acquired_at timestamptz NOT NULL
);
`;

/**
 * Version 4: the hash chain (log-hash.ts). Each event's hash goes into event_hashes in the
 * append's own transaction, computed under the append lock from the previous hash, the
 * position, the revision and the content digest the client computed (p_digests). A log
 * written before this version gets its hashes from the one-time migration at start.
 */
const HASH_CHAIN = `
CREATE TABLE IF NOT EXISTS event_hashes (
  position bigint PRIMARY KEY CHECK (position > 0),
  hash     text   NOT NULL
);

DROP TRIGGER IF EXISTS event_hashes_append_only ON event_hashes;
CREATE TRIGGER event_hashes_append_only BEFORE UPDATE OR DELETE ON event_hashes
  FOR EACH ROW EXECUTE FUNCTION snapledger_events_append_only();

DROP TRIGGER IF EXISTS event_hashes_no_truncate ON event_hashes;
CREATE TRIGGER event_hashes_no_truncate BEFORE TRUNCATE ON event_hashes
  FOR EACH STATEMENT EXECUTE FUNCTION snapledger_events_append_only();

DROP FUNCTION IF EXISTS snapledger_append(text, text, bigint, text[], text[], text[], text[]);

CREATE OR REPLACE FUNCTION snapledger_append(
  p_stream text, p_expect text, p_expected bigint,
  p_ids text[], p_types text[], p_data text[], p_metadata text[], p_digests text[]
) RETURNS TABLE (next_revision bigint, last_position bigint)
LANGUAGE plpgsql AS $$
DECLARE
  v_last bigint;
  v_head bigint;
  v_prev text;
  v_count integer := coalesce(cardinality(p_ids), 0);
BEGIN
  PERFORM pg_advisory_xact_lock(${APPEND_LOCK_KEY});
  SELECT max(stream_revision) INTO v_last FROM events WHERE stream_name = p_stream;
  IF (p_expect = 'no_stream' AND v_last IS NOT NULL)
     OR (p_expect = 'exact' AND v_last IS DISTINCT FROM p_expected) THEN
    RAISE EXCEPTION 'wrong expected revision on %', p_stream
      USING ERRCODE = '${WRONG_EXPECTED_REVISION_SQLSTATE}',
            DETAIL = coalesce(v_last::text, 'no_stream');
  END IF;
  SELECT coalesce(max(position), 0) INTO v_head FROM events;
  IF v_head = 0 THEN
    v_prev := repeat('0', 64);
  ELSE
    SELECT hash INTO v_prev FROM event_hashes WHERE position = v_head;
    IF v_prev IS NULL THEN
      RAISE EXCEPTION 'the log has no hash at position % yet: its one-time hash migration has not finished', v_head
        USING ERRCODE = '${LOG_NOT_HASHED_SQLSTATE}';
    END IF;
  END IF;
  INSERT INTO events (position, event_id, stream_name, stream_revision, type, data, metadata)
    SELECT v_head + i, p_ids[i], p_stream, coalesce(v_last, -1) + i,
           p_types[i], p_data[i], p_metadata[i]
    FROM generate_subscripts(p_ids, 1) AS i;
  FOR i IN 1 .. v_count LOOP
    v_prev := encode(sha256(convert_to(
      v_prev || E'\\n' || (v_head + i)::text || E'\\n' || (coalesce(v_last, -1) + i)::text
        || E'\\n' || p_digests[i], 'UTF8')), 'hex');
    INSERT INTO event_hashes (position, hash) VALUES (v_head + i, v_prev);
  END LOOP;
  PERFORM pg_notify('${APPEND_CHANNEL}', (v_head + v_count)::text);
  RETURN QUERY SELECT coalesce(v_last, -1) + v_count, v_head + v_count;
END
$$;
`;

/**
 * The SQL that takes a schema from version N-1 to N, by N. A new database runs them all in
 * order; a database an earlier release wrote runs those above its version, at start, under
 * a lock (docs/operations.md, "Upgrading the schema").
 */
export const POSTGRES_EVENT_STORE_MIGRATIONS: Readonly<Record<number, string>> = {
  1: EVENTS_TABLE,
  2: APPEND_FUNCTION,
  3: LEASES_TABLE,
  4: HASH_CHAIN,
};
