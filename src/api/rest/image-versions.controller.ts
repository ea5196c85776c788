import { Controller, Get, HttpCode, Inject } from '@nestjs/common';
import { SNAPLEDGER_CONFIG, type SnapledgerConfig } from '../../config/snapledger.config';
import { Public } from '../auth/request-context.decorator';
import { IMAGE_PREFIX } from '../image-prefix.middleware';

/**
 * The Glance v2 minor versions offered, newest first: the image fields we show (os_hidden,
 * os_hash_*) are those of 2.7; nothing later changes the routes we serve.
 */
export const GLANCE_VERSIONS = ['2.7', '2.6', '2.5', '2.4', '2.3', '2.2', '2.1', '2.0'] as const;

/** Glance's version list, every entry pointing at `<image endpoint>/v2/`. */
export function glanceVersionsDocument(imageEndpoint: string) {
  return {
    versions: GLANCE_VERSIONS.map((version, i) => ({
      id: `v${version}`,
      status: i === 0 ? 'CURRENT' : 'SUPPORTED',
      links: [{ rel: 'self', href: `${imageEndpoint}/v2/` }],
    })),
  };
}

/**
 * Glance's version document at the root of the image endpoint (`GET /image`, `/image/`),
 * which the SDK reads before every image call; the compute endpoint keeps Nova's root.
 * 300 Multiple Choices, as Glance answers; readable without a token.
 */
@Controller()
export class ImageVersionsController {
  constructor(@Inject(SNAPLEDGER_CONFIG) private readonly config: SnapledgerConfig) {}

  @Public()
  @Get(IMAGE_PREFIX.slice(1))
  @HttpCode(300)
  versions() {
    return glanceVersionsDocument(`${this.config.publicUrl}${IMAGE_PREFIX}`);
  }

  /**
   * The same list asked for by name (`GET /image/versions`), 200 as Glance answers it:
   * python-glanceclient reads it first.
   */
  @Public()
  @Get(`${IMAGE_PREFIX.slice(1)}/versions`)
  namedVersions() {
    return this.versions();
  }
}
