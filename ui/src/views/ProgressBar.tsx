import { useEffect, useState } from 'preact/hooks';
import { followProgress, type ImageProgress } from '../progress-stream';
import type { Session } from '../session';
import { ErrorLine } from './ErrorLine';

/**
 * A running snapshot's live progress, from GET /v1/images/{id}/progress. Calls onFinished
 * once the stream's final event arrives (the image is active, killed or deleted).
 */
export function ProgressBar({
  session,
  imageId,
  onFinished,
}: {
  session: Session;
  imageId: string;
  onFinished: (last: ImageProgress) => void;
}) {
  const [event, setEvent] = useState<ImageProgress | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const abort = new AbortController();
    let last: ImageProgress | null = null;
    followProgress(
      session.token,
      imageId,
      (e) => {
        last = e;
        setEvent(e);
      },
      abort.signal,
    ).then(
      () => {
        if (last?.final) onFinished(last);
      },
      (failure: unknown) => {
        if (!abort.signal.aborted)
          setError(failure instanceof Error ? failure.message : String(failure));
      },
    );
    return () => abort.abort();
    // onFinished is the caller's; following restarts only for another image.
  }, [session.token, imageId]);

  const percent = event?.progress ?? 0;
  const label = event
    ? `${event.status}${event.step ? ` · ${event.step}` : ''}${event.progress !== null ? ` · ${event.progress}%` : ''}`
    : 'waiting for the first report…';
  return (
    <div class="progress" data-image={imageId} data-status={event?.status ?? ''}>
      <progress max={100} value={event?.final && event.status === 'active' ? 100 : percent} />
      <span class="progress-label">{label}</span>
      <ErrorLine message={error} inline />
    </div>
  );
}
