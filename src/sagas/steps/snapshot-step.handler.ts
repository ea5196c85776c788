import type { SnapshotAction } from '../snapshot-next-step';
import type { PlannedSnapshot, RequestedSnapshot } from '../snapshot-process.state';

/** The actions a step performs: every one but `done`, which does nothing. */
export type StepKind = Exclude<SnapshotAction['kind'], 'done'>;

export type ActionOf<K extends StepKind> = Extract<SnapshotAction, { readonly kind: K }>;

interface StepOn<S, K extends StepKind> {
  readonly action: K;
  /**
   * The driver call (idempotent: it checks before it acts) and the append of its events,
   * expecting the revisions `state` was read at. `signal` stops a long driver call (the
   * conversion) when the snapshot is no longer wanted.
   */
  run(state: S, action: ActionOf<K>, signal?: AbortSignal): Promise<void>;
}

/** A step that acts for the request alone: who asked, and for which instance. */
export interface RequestStep<K extends StepKind = StepKind> extends StepOn<RequestedSnapshot, K> {
  readonly needs: 'request';
}

/** A step that carries out the plan. */
export interface PlanStep<K extends StepKind = StepKind> extends StepOn<PlannedSnapshot, K> {
  readonly needs: 'plan';
}

/** One step of the snapshot process, and what must be in the log before it can run. */
export type SnapshotStepHandler<K extends StepKind = StepKind> = RequestStep<K> | PlanStep<K>;

/** Every action's step: the table `SnapshotSteps.perform` looks actions up in. */
export type SnapshotStepTable = { readonly [K in StepKind]: SnapshotStepHandler<K> };

/**
 * A step was picked for a snapshot whose log lacks what it reads (a plan, a request).
 * nextStep never does that; not a permanent error, as the type errors it replaces were not.
 */
export class StepPreconditionError extends Error {
  constructor(action: StepKind, phase: string) {
    super(`the ${action} step cannot run on a snapshot that is ${phase}`);
    this.name = 'StepPreconditionError';
  }
}
