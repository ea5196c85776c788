import { defineConfig } from 'vite';

// The page is served by snapledger itself at /ui/ (src/api/review-page.ts), from ui/dist.
// Everything it needs is bundled here at install time: no CDN, no fonts from elsewhere.
export default defineConfig({
  base: '/ui/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: true },
});
