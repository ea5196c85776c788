import { createParser } from 'eventsource-parser';
import { ApiError } from './api';

/** One event of GET /v1/images/{id}/progress. */
export interface ImageProgress {
  image_id: string;
  status: string;
  step: string | null;
  progress: number | null;
  result: string | null;
  final: boolean;
}

/**
 * Follows an image's progress stream until its final event or until `signal` aborts.
 * EventSource cannot send X-Auth-Token, so the stream is read with fetch and parsed with
 * eventsource-parser.
 */
export async function followProgress(
  token: string,
  imageId: string,
  onEvent: (event: ImageProgress) => void,
  signal: AbortSignal,
): Promise<void> {
  const res = await fetch(`/v1/images/${encodeURIComponent(imageId)}/progress`, {
    headers: { 'X-Auth-Token': token, Accept: 'text/event-stream' },
    signal,
  });
  if (!res.ok || res.body === null)
    throw new ApiError(res.status, `${res.status} ${res.statusText}`);
  const parser = createParser({
    onEvent: (message) => {
      if (message.event === 'progress') onEvent(JSON.parse(message.data) as ImageProgress);
    },
  });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    parser.feed(value);
  }
}
