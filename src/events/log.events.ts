/**
 * Events about the log itself, in the stream log-integrity. The store writes them, not a
 * command handler: they record what was done to the log as a whole.
 */

/**
 * A log written before the hash chain got its hashes: positions 1 to upToPosition were hashed
 * after they were written, by the one-time migration at the store's start. Everything after
 * this event was hashed as it was appended.
 */
export type LogHashesBackfilled = {
  readonly type: 'LogHashesBackfilled';
  readonly data: {
    /** The last position the migration hashed. */
    readonly upToPosition: number;
    /** The hash at upToPosition. */
    readonly headHash: string;
  };
};

export type LogEvent = LogHashesBackfilled;
