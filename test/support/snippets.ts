import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * Type-checks the ```ts blocks of Markdown documents against the built package.
 *
 * Each block becomes its own module. A document may declare what its blocks use without defining it
 * (an `app`, a `verify`, ...) in a prelude, and may ask for compiler options, both in HTML comments
 * that GitHub does not show:
 *
 *     <!-- snippet-prelude
 *     import type { Express } from 'express';
 *     export declare const app: Express;
 *     -->
 *     <!-- snippet-options {"experimentalDecorators": true, "emitDecoratorMetadata": true} -->
 *
 * Every name the shared prelude (test/snippets/prelude.ts) or the document's prelude exports is
 * imported into each block that does not declare that name itself. Blocks fenced as ```js or
 * ```text are not checked. Documents with the same options share one `tsc` run.
 */

const run = promisify(execFile);

/** Compiler options of every snippet program; a document's `snippet-options` are added on top. */
export const BASE_OPTIONS: Record<string, unknown> = {
  target: 'es2022',
  module: 'nodenext',
  moduleResolution: 'nodenext',
  lib: ['es2023'],
  types: ['node'],
  strict: true,
  noUncheckedIndexedAccess: true,
  skipLibCheck: false,
  noEmit: true,
};

export interface Snippet {
  /** The document, relative to the repository root. */
  doc: string;
  /** 1-based line of the block's first code line in the document. */
  line: number;
  code: string;
}

export interface SnippetDocument {
  doc: string;
  snippets: Snippet[];
  prelude?: { line: number; code: string };
  options: Record<string, unknown>;
}

export interface SnippetError {
  doc: string;
  line: number;
  message: string;
}

/** Reads the ```ts blocks, the prelude and the options of one Markdown text. */
export function parseDocument(doc: string, text: string): SnippetDocument {
  const lines = text.split('\n');
  const snippets: Snippet[] = [];
  let prelude: SnippetDocument['prelude'];
  let options: Record<string, unknown> = {};
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const optionsMatch = /^<!--\s*snippet-options\s+(\{.*\})\s*-->\s*$/.exec(line);
    if (optionsMatch?.[1]) {
      options = JSON.parse(optionsMatch[1]) as Record<string, unknown>;
      continue;
    }
    if (/^<!--\s*snippet-prelude\s*$/.test(line)) {
      const end = lines.indexOf('-->', i + 1);
      if (end < 0) throw new Error(`${doc}:${i + 1}: snippet-prelude is not closed by a line "-->"`);
      prelude = { line: i + 2, code: lines.slice(i + 1, end).join('\n') };
      i = end;
      continue;
    }
    const fence = /^(\s*)(`{3,})(\S*)\s*$/.exec(line);
    if (!fence) continue;
    const [, indent = '', ticks = '```', lang = ''] = fence;
    let end = i + 1;
    while (end < lines.length && (lines[end] ?? '').trim() !== ticks) end++;
    if (lang === 'ts' || lang === 'typescript') {
      const body = lines.slice(i + 1, end).map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l));
      snippets.push({ doc, line: i + 2, code: body.join('\n') });
    }
    i = end;
  }
  return prelude ? { doc, snippets, prelude, options } : { doc, snippets, options };
}

/** The names a module declares or imports at its top level (code formatted one statement a line). */
export function topLevelNames(code: string): Set<string> {
  const names = new Set<string>();
  const add = (list: string) => {
    for (const part of list.split(',')) {
      const name = part
        .trim()
        .replace(/^type\s+/, '')
        .split(/\s+as\s+/)
        .pop()
        ?.trim();
      if (name && /^[A-Za-z_$][\w$]*$/.test(name)) names.add(name);
    }
  };
  for (const m of code.matchAll(/^import\s+(?:type\s+)?([\s\S]*?)\s+from\s+['"][^'"]+['"]/gm)) {
    const clause = m[1] ?? '';
    const braces = /\{([\s\S]*)\}/.exec(clause);
    if (braces?.[1]) add(braces[1]);
    const rest = clause.replace(/\{[\s\S]*\}/, '').replace(/\*\s+as\s+/, '');
    add(rest);
  }
  const declaration =
    /^(?:export\s+)?(?:declare\s+)?(?:default\s+)?(?:async\s+)?(?:abstract\s+)?(?:const|let|var|function\*?|class|interface|type|enum|namespace)\s+([A-Za-z_$][\w$]*)/gm;
  for (const m of code.matchAll(declaration)) if (m[1]) names.add(m[1]);
  for (const m of code.matchAll(/^(?:export\s+)?(?:const|let|var)\s+\{([^}]*)\}\s*=/gm)) {
    add((m[1] ?? '').replace(/:\s*[\w$]+/g, ''));
  }
  return names;
}

/** The names a prelude module exports. */
function exportedNames(code: string): string[] {
  const names: string[] = [];
  const re =
    /^export\s+(?:declare\s+)?(?:async\s+)?(?:const|let|var|function|class|interface|type|enum|namespace)\s+([A-Za-z_$][\w$]*)/gm;
  for (const m of code.matchAll(re)) if (m[1]) names.push(m[1]);
  for (const m of code.matchAll(/^export\s+(?:type\s+)?\{([^}]*)\}/gm)) {
    for (const part of (m[1] ?? '').split(',')) {
      const name = part
        .trim()
        .split(/\s+as\s+/)
        .pop();
      if (name) names.push(name.replace(/^type\s+/, ''));
    }
  }
  return names;
}

interface Written {
  file: string;
  doc: string;
  /** Document line of the file's line 1. */
  offset: number;
}

/**
 * Writes one module per block (and per prelude) under `dir`, runs one `tsc` per set of options, and
 * returns the errors mapped back to document lines.
 */
export async function checkSnippets(
  documents: SnippetDocument[],
  options: { dir: string; sharedPrelude: string; tsc: string },
): Promise<SnippetError[]> {
  await rm(options.dir, { recursive: true, force: true });
  await mkdir(options.dir, { recursive: true });
  const shared = await readFile(options.sharedPrelude, 'utf8');
  const sharedFile = path.join(options.dir, 'shared-prelude.ts');
  await writeFile(sharedFile, shared);
  const sharedNames = exportedNames(shared);
  const groups = new Map<string, Written[]>();
  const written: Written[] = [];
  for (const [d, document] of documents.entries()) {
    const key = JSON.stringify(document.options);
    const group = groups.get(key) ?? [];
    groups.set(key, group);
    const base = `${d}-${document.doc.replace(/[^A-Za-z0-9]+/g, '_')}`;
    let preludeNames: string[] = [];
    if (document.prelude) {
      const file = path.join(options.dir, `${base}.prelude.ts`);
      await writeFile(file, `${document.prelude.code}\nexport {};\n`);
      preludeNames = exportedNames(document.prelude.code);
      const entry = { file, doc: document.doc, offset: document.prelude.line };
      group.push(entry);
      written.push(entry);
    }
    for (const [s, snippet] of document.snippets.entries()) {
      const own = topLevelNames(snippet.code);
      const imports = [
        importLine(
          sharedNames.filter((n) => !own.has(n) && !preludeNames.includes(n)),
          './shared-prelude.js',
        ),
        document.prelude
          ? importLine(
              preludeNames.filter((n) => !own.has(n)),
              `./${base}.prelude.js`,
            )
          : '',
      ].join(' ');
      const file = path.join(options.dir, `${base}.${s}.ts`);
      // Line 1 holds the imports, so the block's first line is the file's line 2.
      await writeFile(file, `${imports}\n${snippet.code}\nexport {};\n`);
      const entry = { file, doc: document.doc, offset: snippet.line - 1 };
      group.push(entry);
      written.push(entry);
    }
  }
  const errors: SnippetError[] = [];
  for (const [key, group] of groups) {
    const config = path.join(options.dir, `tsconfig.${[...groups.keys()].indexOf(key)}.json`);
    const compilerOptions = { ...BASE_OPTIONS, ...(JSON.parse(key) as Record<string, unknown>) };
    const files = [path.basename(sharedFile), ...group.map((w) => path.basename(w.file))];
    await writeFile(config, JSON.stringify({ compilerOptions, files }, null, 2));
    const output = await run(options.tsc, ['-p', config, '--pretty', 'false'], { cwd: options.dir }).then(
      (r) => r.stdout,
      (err: { stdout?: string; message: string }) => err.stdout || err.message,
    );
    errors.push(...mapErrors(output, written, options.dir));
  }
  return errors;
}

function importLine(names: string[], from: string): string {
  return names.length > 0 ? `import { ${names.join(', ')} } from '${from}';` : '';
}

/** Turns `file(line,col): error TS...: message` lines into document positions. */
function mapErrors(output: string, written: Written[], dir: string): SnippetError[] {
  const errors: SnippetError[] = [];
  let last: SnippetError | undefined;
  for (const line of output.split('\n')) {
    const m = /^(.+?)\((\d+),(\d+)\): (error TS\d+: .*)$/.exec(line);
    if (!m) {
      if (last && line.startsWith('  ')) last.message += `\n${line}`;
      else if (line.trim()) {
        last = { doc: '(tsc)', line: 0, message: line };
        errors.push(last);
      }
      continue;
    }
    const [, file = '', row = '0', , message = ''] = m;
    const target = written.find((w) => path.resolve(dir, file) === w.file);
    last = target
      ? { doc: target.doc, line: target.offset + Number(row) - 1, message }
      : { doc: path.relative(dir, path.resolve(dir, file)), line: Number(row), message };
    errors.push(last);
  }
  return errors;
}
