import {
  ConflictException,
  Controller,
  HttpCode,
  Inject,
  NotFoundException,
  Param,
  Post,
} from '@nestjs/common';
import { isUuid, type RequestContext } from '../../domain/request-context';
import { IMAGE_VERIFIER } from '../../di-tokens';
import type { ImageVerifier, VerifyReport } from '../../drivers/image-verifier';
import { Caller } from '../auth/request-context.decorator';
import { ReadModels } from '../read-models.service';

/** The report in the native API's snake_case shape. */
const reportShape = (r: VerifyReport) => ({
  image_id: r.imageId,
  ok: r.ok,
  files: r.files.map((f) => ({ image_id: f.imageId, ok: f.ok, output: f.output })),
  size: r.size,
  checksum: r.checksum,
  os_hash_value: r.osHashValue,
});

/**
 * POST /v1/images/{id}/verify: checks an active image's stored data (every layer of a
 * backup chain with qemu-img check, then the whole image's checksums against the recorded
 * ones). 200 with `ok` and what was found; the work is a full read of the image.
 */
@Controller('v1')
export class ImageVerifyController {
  constructor(
    private readonly views: ReadModels,
    @Inject(IMAGE_VERIFIER) private readonly verifier: ImageVerifier | null,
  ) {}

  @Post('images/:id/verify')
  @HttpCode(200)
  async verify(@Param('id') id: string, @Caller() caller: RequestContext) {
    const image = isUuid(id) ? await this.views.image(caller.actor, id) : null;
    if (!image) throw new NotFoundException(`Image ${id} could not be found.`);
    if (image.status !== 'active') {
      throw new ConflictException(
        `Image ${image.id} is ${image.status}; only an active image has data to verify.`,
      );
    }
    if (image.checksum === null) {
      throw new ConflictException(
        `Image ${image.id} has no recorded checksums to verify against yet: a backup of a chain is hashed after it becomes active. Try again once its checksum is set.`,
      );
    }
    if (!this.verifier) {
      throw new ConflictException(
        'Images are kept in Glance (SNAPLEDGER_IMAGE_STORE=glance): snapledger checked their checksums against Glance when it stored them, and Glance keeps them now.',
      );
    }
    return reportShape(
      await this.verifier.verify({
        imageId: image.id,
        size: image.size,
        checksum: image.checksum,
        osHashValue: image.osHashValue,
        diskFormat: image.diskFormat,
      }),
    );
  }
}
