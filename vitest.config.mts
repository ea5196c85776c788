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
const unit = { testTimeout: 20_000 };
const POSTGRES_CONTRACT = 'test/contract/postgres-event-store.test.ts';

export default defineConfig({
  plugins,
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    // The pool is shared by both projects and sized here (Vitest reads poolOptions and
    // maxWorkers from the root only). Its default on this 2-core machine is one worker;
    // three files at a time fit, because most of an integration file's time is spent
    // waiting on libvirtd, QEMU, qemu-img, fsync and the service's start-up rather than on
    // the CPU. On a 2-core TCG host the whole suite took 986 s with two and 865 s with three.
    pool: 'forks',
    maxWorkers: 3,
    minWorkers: 1,
    projects: [
      // The unit, contract and replay tests need no libvirtd, so they run beside the files that
      // stop it, on the worker those would leave idle: most of them beside the first, the
      // PostgreSQL contract (about as long as the second) beside the second.
      {
        plugins,
        test: {
          name: 'unit',
          include: [
            'test/unit/**/*.test.ts',
            'test/contract/**/*.test.ts',
            'test/replay/**/*.test.ts',
          ],
          exclude: [POSTGRES_CONTRACT],
          sequence: { groupOrder: 1 },
          ...unit,
        },
      },
      {
        plugins,
        test: {
          name: 'unit-postgres',
          include: [POSTGRES_CONTRACT],
          sequence: { groupOrder: 2 },
          ...unit,
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
      // Files that stop the machine's libvirtd: each one after every other integration file,
      // with nothing beside it but tests that need no libvirtd (a group runs only when the
      // one before it has finished).
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
