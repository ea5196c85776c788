import { Controller, Get, NotFoundException, Param } from '@nestjs/common';
import type { RequestContext } from '../../commands/request-context';
import { Caller } from '../auth/request-context.decorator';
import { ReadModels } from '../read-models.service';
import { glanceImage } from './glance-image.shape';

/** Glance v2 image routes (the subset snapledger serves). */
@Controller('v2/images')
export class GlanceImagesController {
  constructor(private readonly views: ReadModels) {}

  @Get(':id')
  async show(
    @Param('id') id: string,
    @Caller() caller: RequestContext,
  ): Promise<Record<string, unknown>> {
    const image = await this.views.image(caller.actor, id);
    if (!image) throw new NotFoundException(`No image found with ID ${id}`);
    return glanceImage(image);
  }
}
