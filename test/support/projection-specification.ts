import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DataSource, EntityTarget, FindOptionsWhere, ObjectLiteral } from 'typeorm';
import { afterEach, beforeEach, expect } from 'vitest';
import { SqliteEventStore } from '../../src/event-store/sqlite-event-store';
import type { Projection } from '../../src/projections/projection';
import { createViewProjections, ProjectionRunner } from '../../src/projections/projection-runner';
import { createViewsDataSource } from '../../src/projections/views.data-source';
import type { EventHistory } from './event-history';

/** One check of the views once the runner has applied the log; it throws when they differ. */
export type ViewExpectation = (views: DataSource) => Promise<void>;

export interface ProjectionGiven {
  /**
   * when: the live runner follows the log up to its last event (a runner already running
   * just catches up); then: every expectation holds, checked in order.
   */
  then(...expectations: ViewExpectation[]): Promise<void>;
}

export interface ProjectionSpecification {
  readonly store: SqliteEventStore;
  readonly views: DataSource;
  readonly runner: ProjectionRunner | undefined;
  /** given: the histories' events not yet in the log are appended to it, in order. */
  given(...histories: EventHistory[]): ProjectionGiven;
  /** Appends like `given`; returns the position of the last event in the log. */
  append(...histories: EventHistory[]): Promise<number>;
  /** Starts a runner, after stopping the previous one; the specification stops it after the test. */
  start(projections?: Projection[]): Promise<ProjectionRunner>;
  /** Starts a runner and waits until it has applied `position`. */
  project(position: number, projections?: Projection[]): Promise<void>;
}

/** The views' one row matching `where` has at least the fields of `expected`. */
export function row<Entity extends ObjectLiteral>(
  entity: EntityTarget<Entity>,
  where: FindOptionsWhere<Entity>,
  expected: object,
): ViewExpectation {
  return async (views) => {
    expect(await views.getRepository(entity).findOneByOrFail(where)).toMatchObject(expected);
  };
}

/**
 * given(events).then(view rows), after Emmett's projection specifications: a fresh event
 * store and views database for each test of the enclosing describe, and the real runner.
 */
export function useProjectionSpecification(): ProjectionSpecification {
  let dir: string;
  let store: SqliteEventStore;
  let views: DataSource;
  let runner: ProjectionRunner | undefined;
  const appended = new WeakMap<EventHistory, number>();

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'snapledger-projections-'));
    store = SqliteEventStore.open(join(dir, 'events.sqlite'), { pollIntervalMs: 20 });
    views = createViewsDataSource(join(dir, 'views.sqlite'));
    await views.initialize();
  });

  afterEach(async () => {
    await runner?.stop();
    runner = undefined;
    await store.close();
    await views.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  async function append(...histories: EventHistory[]): Promise<number> {
    for (const history of histories) {
      const from = appended.get(history) ?? 0;
      for (const { streamName, type, data, metadata } of history.events.slice(from))
        await store.append(streamName, [{ type, data, metadata }], 'any');
      appended.set(history, history.events.length);
    }
    return store.lastPosition();
  }

  async function start(projections = createViewProjections()): Promise<ProjectionRunner> {
    await runner?.stop();
    runner = new ProjectionRunner(store, views, projections, undefined, { retryDelayMs: 20 });
    await runner.start();
    return runner;
  }

  async function project(position: number, projections?: Projection[]): Promise<void> {
    const started = await start(projections);
    expect(await started.waitFor(position), `the runner did not reach ${position}`).toBe(true);
  }

  return {
    get store() {
      return store;
    },
    get views() {
      return views;
    },
    get runner() {
      return runner;
    },
    append,
    start,
    project,
    given: (...histories) => ({
      async then(...expectations) {
        const last = await append(...histories);
        if (runner?.isRunning) expect(await runner.waitFor(last)).toBe(true);
        else await project(last);
        for (const check of expectations) await check(views);
      },
    }),
  };
}
