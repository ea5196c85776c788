/** The version of the event-store schema this code writes (table snapledger_schema). */
export const POSTGRES_EVENT_STORE_SCHEMA_VERSION = 1;

/**
 * Appends take this transaction-level advisory lock first. Holding it until commit makes
 * appends commit in position order, so a reader never sees position p+1 before p commits:
 * a position a reader has passed can never be filled in later.
 */
export const APPEND_LOCK_KEY = 0x736e6170; // 'snap'

/** Appends wake subscribers with NOTIFY on this channel; the payload is the last position. */
export const APPEND_CHANNEL = 'snapledger_events';

export const POSTGRES_EVENT_STORE_SCHEMA = `
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
