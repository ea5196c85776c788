/**
 * Defence in depth, checked on the source itself (parsed with the TypeScript compiler, so
 * comments and strings do not confuse it):
 *   - every external command runs with an argument array, never through a shell;
 *   - no route builds a file path, and no path-building call anywhere mentions a request
 *     field. Image files are named by their canonical uuid (canonicalImageId in
 *     src/drivers/local-image-store.ts), never by anything a caller sent.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const SRC = resolve(__dirname, '..', '..', 'src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

interface Parsed {
  readonly file: string;
  readonly source: ts.SourceFile;
}

const parsed: Parsed[] = sourceFiles(SRC).map((path) => ({
  file: relative(SRC, path),
  source: ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true),
}));

function walk(node: ts.Node, visit: (node: ts.Node) => void): void {
  visit(node);
  node.forEachChild((child) => walk(child, visit));
}

/** Names imported from a module, local name → imported name. */
function importsFrom(source: ts.SourceFile, modules: readonly string[]): Map<string, string> {
  const names = new Map<string, string>();
  for (const statement of source.statements) {
    if (!ts.isImportDeclaration(statement)) continue;
    const from = (statement.moduleSpecifier as ts.StringLiteral).text;
    if (!modules.includes(from)) continue;
    const bindings = statement.importClause?.namedBindings;
    if (bindings && ts.isNamedImports(bindings)) {
      for (const el of bindings.elements)
        names.set(el.name.text, (el.propertyName ?? el.name).text);
    }
    if (statement.importClause?.name) names.set(statement.importClause.name.text, 'default');
    if (bindings && ts.isNamespaceImport(bindings)) names.set(bindings.name.text, '*');
  }
  return names;
}

/** Calls of a function imported under `localNames` (plain calls, not `.join()` on arrays). */
function callsOf(source: ts.SourceFile, localNames: ReadonlySet<string>): ts.CallExpression[] {
  const calls: ts.CallExpression[] = [];
  walk(source, (node) => {
    if (
      ts.isCallExpression(node) &&
      ts.isIdentifier(node.expression) &&
      localNames.has(node.expression.text)
    )
      calls.push(node);
  });
  return calls;
}

const where = (p: Parsed, node: ts.Node) =>
  `${p.file}:${p.source.getLineAndCharacterOfPosition(node.getStart()).line + 1}`;

describe('external commands', () => {
  it('never go through a shell: no shell option, no exec/execSync, no execaCommand or $``', () => {
    const offences: string[] = [];
    for (const p of parsed) {
      walk(p.source, (node) => {
        if (
          ts.isPropertyAssignment(node) &&
          ts.isIdentifier(node.name) &&
          node.name.text === 'shell'
        )
          offences.push(`${where(p, node)} sets shell`);
        if (ts.isShorthandPropertyAssignment(node) && node.name.text === 'shell')
          offences.push(`${where(p, node)} sets shell`);
      });
      for (const [local, imported] of importsFrom(p.source, [
        'node:child_process',
        'child_process',
      ]))
        if (['exec', 'execSync', '*', 'default'].includes(imported))
          offences.push(`${p.file} imports ${imported} as ${local} from child_process`);
      for (const [local, imported] of importsFrom(p.source, ['execa']))
        if (!['execa', 'ExecaError', 'ResultPromise', 'Result', 'Options'].includes(imported))
          offences.push(`${p.file} imports ${imported} as ${local} from execa`);
    }
    expect(offences).toEqual([]);
  });

  it('always pass the arguments as an array: execa/spawn/execFile(cmd, [..] or a variable)', () => {
    const offences: string[] = [];
    let checked = 0;
    for (const p of parsed) {
      const runners = new Set<string>();
      for (const [local, imported] of importsFrom(p.source, ['execa']))
        if (imported === 'execa') runners.add(local);
      for (const [local, imported] of importsFrom(p.source, [
        'node:child_process',
        'child_process',
      ]))
        if (['spawn', 'spawnSync', 'execFile', 'execFileSync', 'fork'].includes(imported))
          runners.add(local);
      for (const call of callsOf(p.source, runners)) {
        checked += 1;
        const [command, args] = call.arguments;
        // The command is one word (a literal without spaces, or a variable), the arguments an
        // array literal or a variable holding one: never a command line to be split.
        const commandOk =
          command !== undefined &&
          ((ts.isStringLiteral(command) && !/\s/.test(command.text)) ||
            ts.isIdentifier(command) ||
            ts.isPropertyAccessExpression(command));
        const argsOk =
          args !== undefined && (ts.isArrayLiteralExpression(args) || ts.isIdentifier(args));
        if (!commandOk || !argsOk) offences.push(`${where(p, call)}: ${call.getText()}`);
      }
    }
    expect(offences).toEqual([]);
    // The drivers do run commands (virsh, qemu-img): the scan found them.
    expect(checked).toBeGreaterThanOrEqual(4);
  });
});

describe('file paths', () => {
  /** Identifiers that carry what a caller sent; a path must never be built from them. */
  const REQUEST_DERIVED =
    /\b(req|request|body|params|query|headers|command|input|dto|args|name|metadata|filter)\b/;

  it('are not built in the HTTP layer (src/api), except the bootstrap token file', () => {
    const users = parsed
      .filter((p) => p.file.startsWith('api/'))
      .filter((p) => importsFrom(p.source, ['node:path', 'path']).size > 0)
      .map((p) => p.file);
    expect(users).toEqual(['api/auth/token.service.ts']);
    const tokenService = parsed.find((p) => p.file === 'api/auth/token.service.ts')!;
    const joins = callsOf(tokenService.source, new Set(['join'])).map((c) => c.getText());
    expect(joins).toEqual(["join(dataDir, 'admin-token')"]);
  });

  it('never take a request field, and name image files only by a validated uuid', () => {
    const offences: string[] = [];
    let checked = 0;
    for (const p of parsed) {
      const builders = new Set<string>();
      for (const [local, imported] of importsFrom(p.source, ['node:path', 'path']))
        if (['join', 'resolve', 'normalize', 'format'].includes(imported)) builders.add(local);
      for (const call of callsOf(p.source, builders)) {
        checked += 1;
        for (const arg of call.arguments) {
          const text = arg.getText();
          if (REQUEST_DERIVED.test(text)) offences.push(`${where(p, call)}: ${call.getText()}`);
          // An interpolated file name may hold only an image id, validated in that file, or a
          // uuid generated on the spot.
          if (ts.isTemplateExpression(arg)) {
            for (const span of arg.templateSpans) {
              const inner = span.expression.getText();
              const validated =
                p.source.text.includes('canonicalImageId(') || /UUID\.test\(/.test(p.source.text);
              // randomUUID(): a name made here, never sent by anyone.
              if (inner === 'randomUUID()') continue;
              if (!['id', 'imageId'].includes(inner) || !validated)
                offences.push(`${where(p, call)}: interpolates ${inner}`);
            }
          }
        }
      }
    }
    expect(offences).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(5);
  });

  it('in the image store, every path helper gets an id that went through canonicalImageId', () => {
    const store = parsed.find((p) => p.file === 'drivers/local-image-store.ts')!;
    const helpers = new Set(['partialFile', 'stagedFile', 'storedFile']);
    const offences: string[] = [];
    walk(store.source, (node) => {
      if (
        ts.isCallExpression(node) &&
        ts.isPropertyAccessExpression(node.expression) &&
        helpers.has(node.expression.name.text)
      ) {
        const arg = node.arguments[0]?.getText() ?? '';
        // Either validated inline, or `id`, which every caller assigns from canonicalImageId.
        if (arg !== 'id' && !/^canonicalImageId\(\w+\)$/.test(arg))
          offences.push(`${where(store, node)}: ${node.getText()}`);
      }
      if (
        ts.isVariableDeclaration(node) &&
        node.name.getText() === 'id' &&
        node.initializer &&
        !/^canonicalImageId\(/.test(node.initializer.getText())
      )
        offences.push(`${where(store, node)}: id = ${node.initializer.getText()}`);
    });
    expect(offences).toEqual([]);
  });
});
