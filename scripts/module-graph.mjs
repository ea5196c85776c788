#!/usr/bin/env node
// Figures about the import graph of src/ (type-only imports included): modules, imports, import circles (strongly
// connected components of more than one file) and the depth of the graph (the longest
// chain of imports once each circle counts as one node), plus the largest files.
// Usage: node scripts/module-graph.mjs [project dir]   (default: this checkout)
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(process.argv[2] ?? join(import.meta.dirname, '..'));
const depcruise = join(import.meta.dirname, '..', 'node_modules', '.bin', 'depcruise');
const raw = execFileSync(
  depcruise,
  [
    'src',
    '--no-config',
    '--ts-pre-compilation-deps',
    '--ts-config',
    'tsconfig.json',
    '--include-only',
    '^src/',
    '--output-type',
    'json',
  ],
  { cwd: root, maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' },
);
const { modules } = JSON.parse(raw);
const files = modules.map((m) => m.source).filter((s) => s.endsWith('.ts'));
const edges = new Map(files.map((f) => [f, []]));
let imports = 0;
for (const m of modules) {
  if (!edges.has(m.source)) continue;
  for (const d of m.dependencies) {
    if (edges.has(d.resolved) && !edges.get(m.source).includes(d.resolved)) {
      edges.get(m.source).push(d.resolved);
      imports += 1;
    }
  }
}

// Tarjan's strongly connected components.
let index = 0;
const stack = [];
const info = new Map();
const components = [];
function connect(v) {
  info.set(v, { index, low: index, onStack: true });
  index += 1;
  stack.push(v);
  for (const w of edges.get(v)) {
    if (!info.has(w)) {
      connect(w);
      info.get(v).low = Math.min(info.get(v).low, info.get(w).low);
    } else if (info.get(w).onStack) {
      info.get(v).low = Math.min(info.get(v).low, info.get(w).index);
    }
  }
  if (info.get(v).low === info.get(v).index) {
    const component = [];
    for (;;) {
      const w = stack.pop();
      info.get(w).onStack = false;
      component.push(w);
      if (w === v) break;
    }
    components.push(component);
  }
}
for (const f of files) if (!info.has(f)) connect(f);

const componentOf = new Map();
components.forEach((c, i) => c.forEach((f) => componentOf.set(f, i)));
const depthMemo = new Map();
function depth(c) {
  if (depthMemo.has(c)) return depthMemo.get(c);
  let deepest = 0;
  for (const f of components[c])
    for (const w of edges.get(f)) {
      const d = componentOf.get(w);
      if (d !== c) deepest = Math.max(deepest, depth(d));
    }
  depthMemo.set(c, deepest + 1);
  return deepest + 1;
}
const maxDepth = Math.max(...components.map((_, c) => depth(c)));
const circles = components.filter((c) => c.length > 1);
const lines = files
  .map((f) => ({ f, n: readFileSync(join(root, f), 'utf8').split('\n').length }))
  .sort((a, b) => b.n - a.n);

console.log(`modules: ${files.length}`);
console.log(`imports (between src files): ${imports}`);
console.log(`import circles: ${circles.length}`);
for (const c of circles) console.log(`  - ${c.sort().join(' <-> ')}`);
console.log(`depth (longest import chain, circles as one node): ${maxDepth}`);
console.log('largest files:');
for (const { f, n } of lines.slice(0, 8)) console.log(`  ${String(n).padStart(5)}  ${f}`);
