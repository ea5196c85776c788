import { setTimeout as delay } from 'node:timers/promises';
import { createParser } from 'eventsource-parser';
import type { ApiClient } from './api-client';

/** One event of GET /v1/images/{id}/progress. */
export interface ImageProgressEvent {
  image_id: string;
  status: string;
  step: string | null;
  progress: number | null;
  result: string | null;
  final: boolean;
}

/**
 * Follows an image's progress stream (Server-Sent Events, parsed with eventsource-parser),
 * calling `onProgress` for each event, and resolves with the final one. If the stream ends
 * without a final event (the service restarted, say), it connects again after a second.
 * Aborting `signal` rejects with the abort reason.
 */
export async function followImageProgress(
  api: ApiClient,
  imageId: string,
  options: { signal: AbortSignal; onProgress: (event: ImageProgressEvent) => void },
): Promise<ImageProgressEvent> {
  const path = `/v1/images/${encodeURIComponent(imageId)}/progress`;
  for (;;) {
    options.signal.throwIfAborted();
    const res = await api.openStream(path, 'text/event-stream', options.signal);
    let final: ImageProgressEvent | undefined;
    const parser = createParser({
      onEvent: (message) => {
        if (message.event !== undefined && message.event !== 'progress') return;
        const event = JSON.parse(message.data) as ImageProgressEvent;
        options.onProgress(event);
        if (event.final) final = event;
      },
    });
    const decoder = new TextDecoder();
    if (res.body) {
      for await (const chunk of res.body) {
        parser.feed(decoder.decode(chunk, { stream: true }));
        if (final) break;
      }
    }
    if (final) return final;
    // The stream ended before the final state (the service restarted?): reconnect shortly.
    await delay(1000, undefined, { signal: options.signal });
  }
}
