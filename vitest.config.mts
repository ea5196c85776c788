import swc from 'unplugin-swc';
import { defineConfig } from 'vitest/config';

// SWC compiles the TypeScript so that decorator metadata (NestJS DI) is emitted.
const plugins = [swc.vite({ module: { type: 'es6' } })];

// Integration tests stop and start the machine's libvirtd in these files; no other file may
// run beside them.
const LIBVIRTD_OUTAGES = [
  'test/integration/driver-faults.test.ts',
  'test/integration/instance-lifecycle.e2e.test.ts',
];
const integration = { testTimeout: 180_000, hookTimeout: 120_000 };

export default defineConfig({
  plugins,
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    // The pool is shared by both projects and sized here (Vitest reads poolOptions and
    // maxWorkers from the root only). Its default on this 2-core machine is one worker;
    // two files at a time fit, because most of an integration file's time is spent
    // waiting on libvirtd, QEMU and qemu-img rather than on the CPU.
    pool: 'forks',
    maxWorkers: 2,
    minWorkers: 1,
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
          exclude: LIBVIRTD_OUTAGES,
          setupFiles: ['test/support/worker-domain-scope.ts'],
          ...integration,
        },
      },
      // Files that stop the machine's libvirtd: each one alone, after everything else (a
      // group runs only when the one before it has finished).
      ...LIBVIRTD_OUTAGES.map((file, i) => ({
        plugins,
        test: {
          name: `libvirtd-outage-${i + 1}`,
          include: [file],
          setupFiles: ['test/support/worker-domain-scope.ts'],
          sequence: { groupOrder: i + 1 },
          ...integration,
        },
      })),
    ],
  },
});
