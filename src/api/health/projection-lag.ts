/** The projections count as caught up while at most this many events wait to be applied. */
export const READY_MAX_PROJECTION_LAG = 25;

export interface ProjectionProgress {
  /** The store's last position. */
  readonly lastPosition: number;
  /** The last position every projection has applied. */
  readonly position: number;
  readonly running: boolean;
  /** Whether the last event failed to apply (the runner is retrying). */
  readonly failing: boolean;
}

/** Whether the read models are current enough to serve: running, not failing, lag small. */
export function projectionsCaughtUp(
  p: ProjectionProgress,
  maxLag = READY_MAX_PROJECTION_LAG,
): { ready: boolean; lag: number } {
  const lag = Math.max(0, p.lastPosition - p.position);
  return { ready: p.running && !p.failing && lag <= maxLag, lag };
}
