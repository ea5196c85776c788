import { describe, expect, it } from 'vitest';
import { imageProgressEvent, sseFrame } from '../../src/api/rest/image-progress.state';

const ID = 'img-1';

describe('imageProgressEvent', () => {
  it('is not final while the snapshot runs', () => {
    const event = imageProgressEvent(ID, {
      image: { status: 'saving', progress: 40 },
      history: { taskState: 'image_pending_upload', result: 'running', progress: 40 },
    });
    expect(event).toEqual({
      image_id: ID,
      status: 'saving',
      step: 'image_pending_upload',
      progress: 40,
      result: 'running',
      final: false,
    });
  });

  it('waits for the task state to be released after the image becomes active', () => {
    const holding = imageProgressEvent(ID, {
      image: { status: 'active', progress: 100 },
      history: { taskState: 'image_uploading', result: 'active', progress: 100 },
    });
    expect(holding.final).toBe(false);
    const released = imageProgressEvent(ID, {
      image: { status: 'active', progress: 100 },
      history: { taskState: null, result: 'active', progress: 100 },
    });
    expect(released.final).toBe(true);
  });

  it('is final for a killed snapshot once released, and for a vanished or deleted image', () => {
    expect(
      imageProgressEvent(ID, {
        image: { status: 'killed', progress: null },
        history: { taskState: null, result: 'killed', progress: null },
      }).final,
    ).toBe(true);
    const gone = imageProgressEvent(ID, { image: null, history: null });
    expect(gone).toMatchObject({ status: 'deleted', final: true, result: null });
    expect(
      imageProgressEvent(ID, {
        image: { status: 'deleted', progress: 10 },
        history: { taskState: 'image_snapshot', result: 'running', progress: 10 },
      }).final,
    ).toBe(true);
  });

  it('falls back to the history progress and frames events as SSE', () => {
    const event = imageProgressEvent(ID, {
      image: { status: 'queued', progress: null },
      history: { taskState: 'image_snapshot', result: 'running', progress: 5 },
    });
    expect(event.progress).toBe(5);
    expect(sseFrame('progress', { a: 1 })).toBe('event: progress\ndata: {"a":1}\n\n');
  });
});
