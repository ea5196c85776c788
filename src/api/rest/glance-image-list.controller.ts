import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  BadRequestException,
  Controller,
  Get,
  Inject,
  NotFoundException,
  Param,
  Req,
  Res,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import type { DataSource } from 'typeorm';
import type { RequestContext } from '../../domain/request-context';
import { IMAGE_STORE, type ImageStore } from '../../drivers/image-store.port';
import { VIEWS_DB } from '../../di-tokens';
import { Caller } from '../auth/request-context.decorator';
import { listImages } from '../queries/image-list.query';
import { ReadModels } from '../read-models.service';
import { parseByteRange } from './byte-range.parser';
import { glanceImage } from './glance-image.shape';
import { glanceListLinks, parseGlanceImageQuery } from './glance-image-query.parser';

/** The raw query string as ordered pairs (repeats kept, no nested-object parsing). */
function queryPairs(req: Request): [string, string][] {
  const url = req.originalUrl ?? req.url;
  const at = url.indexOf('?');
  return at < 0 ? [] : [...new URLSearchParams(url.slice(at + 1))];
}

/** Opens a stored file, or null when it is gone (deleted meanwhile). */
/**
 * Glance v2 image list and image data download. (Show and delete live in
 * GlanceImagesController.)
 */
@Controller()
export class GlanceImageListController {
  constructor(
    @Inject(VIEWS_DB) private readonly db: DataSource,
    @Inject(IMAGE_STORE) private readonly store: ImageStore,
    private readonly views: ReadModels,
  ) {}

  /** `GET /v2/images`: Glance's list shape, filters, sorting and marker paging. */
  @Get('v2/images')
  async list(
    @Req() req: Request,
    @Caller() caller: RequestContext,
  ): Promise<Record<string, unknown>> {
    const pairs = queryPairs(req);
    const { filter, page } = parseGlanceImageQuery(pairs);
    const { images, nextMarker } = await listImages(this.db, caller.actor, filter, page);
    return {
      images: images.map((image) => glanceImage(image)),
      ...glanceListLinks(pairs, nextMarker),
      schema: '/v2/schemas/images',
    };
  }

  /**
   * `GET /v2/images/{id}/file`: streams the stored data, with Content-MD5 (the image's
   * checksum, hex, as Glance sends it) on a whole-body answer, and a single byte range on
   * request (206; 416 when unsatisfiable or malformed, 400 for several ranges, as Glance
   * answers). An image without data answers 204.
   */
  @Get('v2/images/:id/file')
  async download(
    @Param('id') id: string,
    @Caller() caller: RequestContext,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const image = await this.views.image(caller.actor, id);
    if (!image) throw new NotFoundException(`No image found with ID ${id}`);
    // The store finds the data by the image's uuid from the view.
    const data = image.status === 'active' ? await this.store.openData(image.id) : null;
    if (!data) {
      res.status(204).end();
      return;
    }
    let stream: Readable | null = null;
    try {
      const { size } = data;
      const range = req.headers['if-range']
        ? ({ kind: 'full' } as const)
        : parseByteRange(req.headers.range, size);
      if (range.kind === 'multiple') {
        throw new BadRequestException(
          'Requests with multiple ranges are not supported in Glance. You may make multiple single-range requests instead.',
        );
      }
      res.setHeader('Accept-Ranges', 'bytes');
      res.setHeader('Content-Type', 'application/octet-stream');
      if (range.kind === 'unsatisfiable' || range.kind === 'invalid') {
        res.status(416).setHeader('Content-Range', `bytes */${size}`);
        if (range.kind === 'invalid')
          res.setHeader('Content-Type', 'text/plain').end('Invalid Range header.');
        else res.end();
        return;
      }
      if (size === 0) {
        res.status(200).setHeader('Content-Length', '0');
        if (image.checksum) res.setHeader('Content-MD5', image.checksum);
        res.end();
        return;
      }
      const start = range.kind === 'partial' ? range.start : 0;
      const end = range.kind === 'partial' ? range.end : size - 1;
      if (range.kind === 'partial') {
        res.status(206).setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
      } else {
        res.status(200);
        if (image.checksum) res.setHeader('Content-MD5', image.checksum);
      }
      res.setHeader('Content-Length', String(end - start + 1));
      stream = await data.read({ start, end });
      await pipeline(stream, res);
    } catch (error) {
      // A client that goes away mid-download is not an error of ours; pipeline has destroyed
      // the stream, which released the data.
      if (res.headersSent || req.destroyed) return;
      throw error;
    } finally {
      if (!stream) await data.close().catch(() => undefined);
    }
  }
}
