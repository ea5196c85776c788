import { EventEmitter } from 'node:events';
import {
  BACKWARDS,
  END,
  FORWARDS,
  KurrentDBClient,
  START,
  StreamNotFoundError,
  streamNameFilter,
  type AllStreamResolvedEvent,
  type AllStreamSubscription,
  type Filter,
  type Position,
  type ReadPosition,
} from '@kurrent/kurrentdb-client';
import type { NewEvent, RecordedEvent } from '../events/recorded-event';
import { prepareAppend, readWindow, toRecordedEvent } from './event-rows';
import {
  EventStoreClosedError,
  type AppendResult,
  type EventStore,
  type ExpectedRevision,
  type ReadAllOptions,
} from './event-store.port';
import {
  clientConnectionString,
  describeEventStoreUrl,
  describeOpenFailure,
  isSystemStream,
  resumePosition,
  toEventData,
  toEventRow,
  toLogPosition,
  toPortError,
  toRevision,
  toStreamState,
} from './eventstoredb-mapping';

/*
 * Client: @kurrent/kurrentdb-client, the vendor's current Node client since EventStoreDB
 * became KurrentDB (2025). @eventstore/db-client is the legacy package: its last release is
 * 6.2.1 and the vendor lists it as superseded. Both speak gRPC to EventStoreDB 20+ and
 * accept esdb:// connection strings.
 */

export interface EventStoreDbOptions {
  /**
   * Our streams are stored as prefix + name and readAll only sees streams with the prefix:
   * several stores (the contract suite's, or two deployments) can share one server. Default ''.
   */
  readonly streamPrefix?: string;
  /** Give up on a call (the first connection included) after this long. Default 5000 ms. */
  readonly deadlineMs?: number;
}

/** How many recent positions keep their commit position, so readAll resumes without a look-up. */
const REMEMBERED_COMMITS = 10_000;

/**
 * The event log in EventStoreDB (or KurrentDB): one ESDB stream per stream of ours, $all as
 * the global log with system streams left out. Revisions map one to one; positions are log
 * positions (eventstoredb-mapping.ts), unique and increasing but with gaps, as the contract
 * allows. A $all subscription, excluding system streams, wakes the listeners: it carries no
 * events, since readAll is what subscribers read.
 *
 * Unlike the SQL stores, ESDB does not keep event ids unique across the log: a retried append
 * with the same ids at the same expected revision is acknowledged by the server without
 * writing again (its idempotence), and an id reused on another stream is stored. Only a batch
 * that repeats an id inside itself gets DuplicateEventError (prepareAppend).
 */
export class EventStoreDbEventStore implements EventStore {
  private readonly appended = new EventEmitter();
  private subscription: AllStreamSubscription | null = null;
  private readonly commits = new Map<number, bigint>();
  private closed = false;

  private constructor(
    private readonly client: KurrentDBClient,
    private readonly prefix: string,
    private readonly deadline: number,
  ) {
    this.appended.setMaxListeners(0);
  }

  /** Connects and reads once, so that an unreachable server is reported at start. */
  static async open(
    url: string,
    options: EventStoreDbOptions = {},
  ): Promise<EventStoreDbEventStore> {
    const deadline = options.deadlineMs ?? 5000;
    let client: KurrentDBClient | undefined;
    try {
      client = KurrentDBClient.connectionString(clientConnectionString(url));
      const store = new EventStoreDbEventStore(client, options.streamPrefix ?? '', deadline);
      await withDeadline(store.lastPosition(), deadline);
      return store;
    } catch (error) {
      await client?.dispose().catch(() => undefined);
      throw new Error(
        `EventStoreDB event store at ${describeEventStoreUrl(url)}: ${describeOpenFailure(error)}`,
        { cause: error },
      );
    }
  }

  async append(
    streamName: string,
    events: readonly NewEvent[],
    expected: ExpectedRevision,
  ): Promise<AppendResult> {
    this.assertOpen();
    const data = prepareAppend(streamName, events, expected).map(toEventData);
    let written;
    try {
      written = await this.client.appendToStream(this.prefix + streamName, data, {
        streamState: toStreamState(expected),
        deadline: this.deadline,
      });
    } catch (error) {
      throw toPortError(error, streamName, expected);
    }
    if (!written.position) throw new Error(`EventStoreDB did not say where ${streamName} landed`);
    const position = toLogPosition(written.position);
    this.remember(position, written.position.commit);
    this.appended.emit('append');
    return {
      nextExpectedRevision: toRevision(written.nextExpectedRevision, streamName),
      position,
    };
  }

  async readStream(streamName: string): Promise<RecordedEvent[]> {
    this.assertOpen();
    const events: RecordedEvent[] = [];
    try {
      for await (const resolved of this.client.readStream(this.prefix + streamName, {
        fromRevision: START,
        direction: FORWARDS,
        deadline: this.deadline,
      })) {
        events.push(toRecordedEvent(toEventRow(resolved, streamName)));
      }
    } catch (error) {
      if (error instanceof StreamNotFoundError) return [];
      throw error;
    }
    return events;
  }

  /**
   * `after` is 0 or a position this store or another on the same server gave: ESDB resumes
   * at record boundaries only, so a number between two events is not a place to read from.
   */
  async readAll(options: ReadAllOptions = {}): Promise<RecordedEvent[]> {
    this.assertOpen();
    const { after, limit } = readWindow(options);
    if (limit === 0) return [];
    let from: ReadPosition = START;
    let exact = true;
    if (after > 0) {
      // Past the last event there is nothing to read, and maybe no record to resume at.
      if (after >= (await this.lastPosition())) return [];
      ({ from, exact } = await this.resumeFrom(after));
    }
    const events: RecordedEvent[] = [];
    for await (const resolved of this.client.readAll({
      fromPosition: from,
      direction: FORWARDS,
      filter: this.filter(),
      deadline: this.deadline,
      // From an exact resume point, only the event at `after` itself comes before the window.
      ...(limit !== null && exact ? { maxCount: limit + (after > 0 ? 1 : 0) } : {}),
    })) {
      const event = this.ours(resolved);
      if (!event || event.position <= after) continue;
      events.push(event);
      if (limit !== null && events.length === limit) break;
    }
    return events;
  }

  async lastPosition(): Promise<number> {
    this.assertOpen();
    for await (const resolved of this.client.readAll({
      fromPosition: END,
      direction: BACKWARDS,
      maxCount: 1,
      filter: this.filter(),
      deadline: this.deadline,
    })) {
      return this.ours(resolved)?.position ?? 0;
    }
    return 0;
  }

  onAppended(listener: () => void): () => void {
    this.assertOpen();
    this.appended.on('append', listener);
    this.subscribe();
    return () => {
      this.appended.off('append', listener);
      if (this.appended.listenerCount('append') === 0) void this.unsubscribe();
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.appended.emit('append');
    this.appended.removeAllListeners('append');
    await this.unsubscribe();
    await this.client.dispose();
  }

  /** Our streams only: the prefix's, and never a system stream. */
  private filter(): Filter {
    return this.prefix
      ? streamNameFilter({ prefixes: [this.prefix] })
      : streamNameFilter({ regex: '^[^$]' });
  }

  private ours(resolved: AllStreamResolvedEvent): RecordedEvent | null {
    const event = resolved.event;
    if (!event || isSystemStream(event.streamId) || !event.streamId.startsWith(this.prefix)) {
      return null;
    }
    const recorded = toRecordedEvent(
      toEventRow(resolved, event.streamId.slice(this.prefix.length)),
    );
    this.remember(recorded.position, event.position.commit);
    return recorded;
  }

  private remember(position: number, commit: bigint): void {
    this.commits.set(position, commit);
    if (this.commits.size > REMEMBERED_COMMITS) {
      const oldest = this.commits.keys().next();
      if (!oldest.done) this.commits.delete(oldest.value);
    }
  }

  /**
   * The $all position to read forwards from for `after`. ESDB resumes at a (commit, prepare)
   * pair, and the events of one append share a commit that precedes their own positions, so
   * `after` alone as the commit could skip the rest of its append. When the commit is not
   * remembered (a checkpoint from before a restart), the record just before `after` in the
   * log gives a commit at or before it: the read then starts a little early (not exact) and
   * readAll drops what is not past `after`.
   */
  private async resumeFrom(after: number): Promise<{ from: Position; exact: boolean }> {
    const known = this.commits.get(after);
    if (known !== undefined) return { from: resumePosition(after, known), exact: true };
    for await (const resolved of this.client.readAll({
      fromPosition: resumePosition(after),
      direction: BACKWARDS,
      maxCount: 1,
      deadline: this.deadline,
    })) {
      const commit = resolved.event?.position.commit ?? resolved.commitPosition ?? 0n;
      return { from: resumePosition(after, commit), exact: false };
    }
    return { from: resumePosition(after, 0n), exact: false };
  }

  /** One $all subscription per store while anyone listens; each event of ours wakes them. */
  private subscribe(): void {
    if (this.subscription || this.closed) return;
    const subscription = this.client.subscribeToAll({ fromPosition: END, filter: this.filter() });
    subscription.on('data', () => this.appended.emit('append'));
    subscription.on('error', () => {
      // A dropped subscription is re-opened by the next listener; wake the current ones so
      // that they re-read rather than wait on a signal that will not come.
      if (this.subscription === subscription) this.subscription = null;
      this.appended.emit('append');
      if (this.appended.listenerCount('append') > 0) setTimeout(() => this.subscribe(), 1000);
    });
    this.subscription = subscription;
  }

  private async unsubscribe(): Promise<void> {
    const subscription = this.subscription;
    this.subscription = null;
    await subscription?.unsubscribe().catch(() => undefined);
  }

  private assertOpen(): void {
    if (this.closed) throw new EventStoreClosedError();
  }
}

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}
