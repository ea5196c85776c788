import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Request, Response } from 'express';

/**
 * The review page's built files (ui/, built into ui/dist by scripts/install-deps.sh), found
 * from this module's own place: src/ when run from source, dist/src/ when compiled.
 * Never from anything a request says.
 */
export function reviewPageDirectory(): string | null {
  const candidates = [resolve(__dirname, '../ui/dist'), resolve(__dirname, '../../ui/dist')];
  return candidates.find((dir) => existsSync(join(dir, 'index.html'))) ?? null;
}

/**
 * The page may load only its own files and talk only to this service: no inline script, no
 * other origin, not framed.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/**
 * Serves the review page at /ui/. Its files are static and public, like a sign-in page;
 * every piece of data it shows comes from the API with the user's token, so the same
 * authentication and project scoping apply as for curl or the openstack client.
 */
export function mountReviewPage(app: NestExpressApplication): void {
  const dir = reviewPageDirectory();
  if (dir !== null) {
    app.useStaticAssets(dir, {
      prefix: '/ui',
      index: 'index.html',
      fallthrough: true,
      setHeaders: (res) => {
        res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY);
        res.setHeader('X-Content-Type-Options', 'nosniff');
        res.setHeader('Referrer-Policy', 'no-referrer');
      },
    });
  } else {
    app.use('/ui', (_req: Request, res: Response) => {
      res
        .status(404)
        .type('text/plain')
        .send('The review page is not built: run ./scripts/install-deps.sh, which builds ui/.\n');
    });
  }
}
