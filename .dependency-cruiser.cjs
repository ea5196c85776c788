/**
 * The module-graph rules, checked by `npm run lint:graph` (part of scripts/test.sh).
 * ESLint's no-restricted-imports holds the same domain/ rule file by file; this checks the
 * whole graph, including circles, which a per-file rule cannot see.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import circle (type-only imports included) makes the layers impossible to read.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'domain-is-pure',
      severity: 'error',
      comment: 'src/domain/ holds the pure decisions and folds: it depends on src/events/ only.',
      from: { path: '^src/domain/' },
      to: { pathNot: '^src/(domain|events)/' },
    },
    {
      name: 'inner-layers-not-on-api',
      severity: 'error',
      comment: 'Only the API layer depends on the domain, not the other way round.',
      from: { path: '^src/(domain|events|commands|sagas|drivers|projections|event-store)/' },
      to: { path: '^src/api/' },
    },
    {
      name: 'nothing-imports-the-root-module',
      severity: 'error',
      comment: 'app.module is the composition root: nothing it wires may import it.',
      from: { path: '^src/', pathNot: '^src/cli/main\\.ts$' },
      to: { path: '^src/app\\.module\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    includeOnly: '^src/',
  },
};
