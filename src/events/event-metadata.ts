/** Who asked for something. Every event carries the actor that caused it. */
export interface Actor {
  readonly userId: string;
  /**
   * The user's name when the token was issued to a user account (Keystone password sign-in),
   * as it was then. Absent for tokens made for a bare user id (`snapledger token create`),
   * for the service itself, and in events written before names were recorded.
   */
  readonly userName?: string;
  readonly projectId: string;
  readonly roles: readonly string[];
}

/** The service itself acting (instance sync, saga steps started by the host). */
export const SYSTEM_ACTOR: Actor = Object.freeze({
  userId: 'snapledger',
  projectId: 'snapledger',
  roles: Object.freeze(['admin', 'system']),
});

export interface EventMetadata {
  /** uuid; also the de-duplication key in every store. */
  readonly eventId: string;
  /** The request (or sync run) this event belongs to. */
  readonly correlationId: string;
  /** The event or command that directly caused this one. */
  readonly causationId: string;
  readonly actor: Actor;
  readonly requestId: string;
  /** ISO-8601 timestamp, supplied by the caller (deciders never read a clock). */
  readonly occurredAt: string;
  readonly schemaVersion: number;
}

/** What a command handler or saga knows about the cause of the events it appends. */
export interface CausationContext {
  readonly correlationId: string;
  readonly causationId: string;
  readonly requestId: string;
  readonly actor: Actor;
}
