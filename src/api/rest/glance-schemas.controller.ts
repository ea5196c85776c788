import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { imageSchema, imagesSchema } from './glance-schemas';

/** Glance's schema documents, which the image list's and images' `schema` links name. */
@ApiTags('image')
@Controller('v2/schemas')
export class GlanceSchemasController {
  @Get('image')
  @ApiOperation({ summary: 'The JSON Schema of an image (python-glanceclient reads it)' })
  image() {
    return imageSchema();
  }

  @Get('images')
  @ApiOperation({ summary: 'The JSON Schema of a page of the image list' })
  images() {
    return imagesSchema();
  }
}
