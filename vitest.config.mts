import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// SWC compiles the TypeScript so that decorator metadata (NestJS DI) is emitted.
const plugins = [swc.vite({ module: { type: 'es6' } })];

export default defineConfig({
  plugins,
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      {
        plugins,
        test: {
          name: 'unit',
          include: [
            'test/unit/**/*.test.ts',
            'test/contract/**/*.test.ts',
            'test/replay/**/*.test.ts',
          ],
          testTimeout: 20_000,
        },
      },
      {
        plugins,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // Real QEMU domains on a 2-core machine: one file at a time.
          pool: 'forks',
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 180_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
