import type { ExpectedRevision, EventStore } from '../event-store/event-store.port';
import type { RecordedEvent } from '../events';

export interface Loaded<S> {
  readonly state: S;
  /** What an append made on this state must expect. */
  readonly revision: ExpectedRevision;
  readonly events: readonly RecordedEvent[];
}

/** Reads a stream and folds it; the revision is the optimistic-concurrency expectation. */
export async function loadAggregate<S, E>(
  store: EventStore,
  stream: string,
  fold: (events: readonly E[]) => S,
): Promise<Loaded<S>> {
  const events = await store.readStream(stream);
  const last = events.at(-1);
  return {
    state: fold(events as unknown as E[]),
    revision: last === undefined ? 'no_stream' : last.revision,
    events,
  };
}
