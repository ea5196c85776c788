import { Controller, Delete, Get, HttpCode, NotFoundException, Param } from '@nestjs/common';
import { DeleteImageCommand, type DeleteImageResult } from '../../commands/delete-image.command';
import type { RequestContext } from '../../domain/request-context';
import { Caller } from '../auth/request-context.decorator';
import { ReadModels } from '../read-models.service';
import { WriteCommandBus } from '../write-command.bus';
import { glanceImage } from './glance-image.shape';

/** Glance v2 image routes (the subset snapledger serves). */
@Controller('v2/images')
export class GlanceImagesController {
  constructor(
    private readonly views: ReadModels,
    private readonly commands: WriteCommandBus,
  ) {}

  @Get(':id')
  async show(
    @Param('id') id: string,
    @Caller() caller: RequestContext,
  ): Promise<Record<string, unknown>> {
    const image = await this.views.image(caller.actor, id);
    if (!image) throw new NotFoundException(`No image found with ID ${id}`);
    return glanceImage(image);
  }

  /**
   * Glance's delete: 204, and a later show is 404. A snapshot still making the image is
   * stopped by the saga (domain restored, task state released, data removed).
   */
  @Delete(':id')
  @HttpCode(204)
  async delete(@Param('id') id: string, @Caller() caller: RequestContext): Promise<void> {
    await this.commands.execute<DeleteImageCommand, DeleteImageResult>(
      new DeleteImageCommand(id, caller),
    );
  }
}
