import { Controller, Get, Inject, NotFoundException, Param, Res } from '@nestjs/common';
import type { Response } from 'express';
import type { DataSource } from 'typeorm';
import { isUuid, type RequestContext } from '../../domain/request-context';
import { ImageView } from '../../projections/entities/image-view.entity';
import { SnapshotHistory } from '../../projections/entities/snapshot-history.entity';
import type { ProjectionRunner } from '../../projections/projection-runner';
import { PROJECTION_RUNNER, VIEWS_DB } from '../../di-tokens';
import { Caller } from '../auth/request-context.decorator';
import { ReadModels } from '../read-models.service';
import { imageProgressEvent, type ImageProgressSource, sseFrame } from './image-progress.state';

/** A comment line every 15 s keeps proxies and idle timers from closing the stream. */
const KEEP_ALIVE_MS = 15_000;

/**
 * GET /v1/images/{id}/progress: live progress as Server-Sent Events, from the read models.
 * Sends the current state at once, then an event each time the projections change the
 * image's status, step or progress, and closes after the final one. Woken by the
 * projection runner (no polling); the keep-alive tick also re-reads, as a safety net.
 */
@Controller('v1')
export class ImageProgressController {
  constructor(
    @Inject(VIEWS_DB) private readonly db: DataSource,
    private readonly views: ReadModels,
    @Inject(PROJECTION_RUNNER) private readonly runner: ProjectionRunner,
  ) {}

  @Get('images/:id/progress')
  async progress(
    @Param('id') id: string,
    @Caller() caller: RequestContext,
    @Res() res: Response,
  ): Promise<void> {
    // Checked before the stream starts, so the 404 is an ordinary native JSON error.
    if (!isUuid(id) || !(await this.views.image(caller.actor, id)))
      throw new NotFoundException(`Image ${id} could not be found.`);
    const imageId = id.toLowerCase();

    res.status(200);
    res.setHeader('Content-Type', 'text/event-stream; charset=utf-8');
    res.setHeader('Cache-Control', 'no-cache, no-transform');
    res.setHeader('Connection', 'keep-alive');
    res.setHeader('X-Accel-Buffering', 'no');
    res.flushHeaders();

    let closed = false;
    let reading = false;
    let readAgain = false;
    let lastSent = '';

    const finish = () => {
      if (closed) return;
      closed = true;
      unsubscribe();
      clearInterval(keepAlive);
      res.end();
    };

    /** Reads the rows and sends an event if they changed; coalesces wake-ups while reading. */
    const refresh = async (): Promise<void> => {
      if (reading) {
        readAgain = true;
        return;
      }
      reading = true;
      try {
        do {
          readAgain = false;
          const event = imageProgressEvent(imageId, await this.source(imageId));
          if (closed) return;
          const frame = sseFrame('progress', event);
          if (frame !== lastSent) {
            lastSent = frame;
            res.write(frame);
          }
          if (event.final) return finish();
        } while (readAgain && !closed);
      } catch {
        finish();
      } finally {
        reading = false;
      }
    };

    const unsubscribe = this.runner.onApplied(() => void refresh());
    const keepAlive = setInterval(() => {
      if (closed) return;
      res.write(': keep-alive\n\n');
      void refresh();
    }, KEEP_ALIVE_MS);
    res.on('close', finish);
    await refresh();
  }

  private async source(imageId: string): Promise<ImageProgressSource> {
    const [image, history] = await Promise.all([
      this.db.getRepository(ImageView).findOne({
        where: { id: imageId },
        select: { id: true, status: true, progress: true },
      }),
      this.db.getRepository(SnapshotHistory).findOne({
        where: { imageId },
        select: { imageId: true, taskState: true, queued: true, result: true, progress: true },
      }),
    ]);
    return { image, history };
  }
}
