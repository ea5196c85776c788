import type { ImageStatus } from '../../projections/entities/image-view.entity';
import type { SnapshotResult } from '../../projections/entities/snapshot-history.entity';

/** What GET /v1/images/{id}/progress sends in each server-sent event. */
export interface ImageProgressEvent {
  readonly image_id: string;
  readonly status: ImageStatus;
  /**
   * `queued` while the snapshot waits for a slot of the host's concurrency limit; else the
   * instance's task_state while the snapshot holds it (null once released).
   */
  readonly step: string | null;
  /** qemu-img convert percentage, 0..100; null before the first report. */
  readonly progress: number | null;
  /** The snapshot's result (running, active, killed, deleted); null if it has no history row. */
  readonly result: SnapshotResult | null;
  /** True on the last event: the stream closes after it. */
  readonly final: boolean;
}

/** The image-view and snapshot-history fields the progress stream reads. */
export interface ImageProgressSource {
  readonly image: { readonly status: ImageStatus; readonly progress: number | null } | null;
  readonly history: {
    readonly taskState: string | null;
    /** Waiting for a slot of the concurrency limit; absent means false. */
    readonly queued?: boolean;
    readonly result: SnapshotResult;
    readonly progress: number | null;
  } | null;
}

/**
 * The progress event for an image's current read-model rows. The stream is final once the
 * image is gone or deleted, or once it is active or killed AND its snapshot has given the
 * instance's task state back (so a client that snapshots again right away is not refused).
 */
export function imageProgressEvent(
  imageId: string,
  source: ImageProgressSource,
): ImageProgressEvent {
  const { image, history } = source;
  const status: ImageStatus = image?.status ?? 'deleted';
  const taskState = history?.taskState ?? null;
  const step = history?.queued && taskState !== null ? 'queued' : taskState;
  const settled =
    status === 'deleted' || ((status === 'active' || status === 'killed') && taskState === null);
  return {
    image_id: imageId,
    status,
    step,
    progress: image?.progress ?? history?.progress ?? null,
    result: history?.result ?? null,
    final: settled,
  };
}

/** One server-sent event carrying `data` as JSON. */
export function sseFrame(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}
