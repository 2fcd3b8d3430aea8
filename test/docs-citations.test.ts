// The guides cite tests as their evidence (docs/threat-model.md's last column, `file.test.ts` ›
// "title" in the others): each citation must name a test file and titles that exist. The titles are
// read by loading every test file with mocha in a child process (titles built in loops included),
// without running anything.

import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';

const run = promisify(execFile);
const TEST_DIR = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(TEST_DIR, '..');
const SELF = 'docs-citations.test.ts';

// ------------------------------------------------------------------------------------------------
// Citations
// ------------------------------------------------------------------------------------------------

interface TestNode {
  file: string;
  kind: 'describe' | 'it';
  path: string[];
}

const MARK = '@@docs-citations-titles@@';

/** Loads every test file with mocha (nothing runs) in a child process and lists describe and it titles. */
const LIST_TITLES = `
import fs from 'node:fs';
import path from 'node:path';
import Mocha from 'mocha';
const dir = process.env.DOCS_CITATIONS_TEST_DIR;
const mocha = new Mocha();
for (const f of fs.readdirSync(dir).sort()) {
  if (f.endsWith('.test.ts') && f !== process.env.DOCS_CITATIONS_SELF) mocha.addFile(path.join(dir, f));
}
await mocha.loadFilesAsync();
const out = [];
const base = (file) => path.basename(String(file));
const walk = (suite, prefix, file) => {
  for (const t of suite.tests) out.push({ file: base(t.file ?? file), kind: 'it', path: [...prefix, t.title] });
  for (const s of suite.suites) {
    const f = s.file ?? file;
    out.push({ file: base(f), kind: 'describe', path: [...prefix, s.title] });
    walk(s, [...prefix, s.title], f);
  }
};
walk(mocha.suite, [], undefined);
process.stdout.write('\\n${MARK}' + JSON.stringify(out));
process.exit(0);
`;

let titlesCache: Promise<TestNode[]> | undefined;

function testTree(): Promise<TestNode[]> {
  titlesCache ??= run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', LIST_TITLES], {
    cwd: ROOT,
    env: { ...process.env, DOCS_CITATIONS_TEST_DIR: TEST_DIR, DOCS_CITATIONS_SELF: SELF },
    timeout: 120_000,
    maxBuffer: 64 << 20,
  }).then(({ stdout }) => {
    const at = stdout.lastIndexOf(MARK);
    if (at === -1) throw new Error('the child printed no title list');
    return JSON.parse(stdout.slice(at + MARK.length)) as TestNode[];
  });
  return titlesCache;
}

type Token =
  | { t: 'file'; v: string }
  | { t: 'quote'; v: string }
  | { t: 'paren'; v: string }
  | { t: 'sep' | 'comma' | 'semi' | 'and' | 'reset' };

/**
 * Splits citation text into tokens: `x.test.ts` (a file), "..." (a title), ›, ',', ';', 'and'.
 * In a table cell, parentheticals are one token (free text such as "(all cases)"); in prose, any other
 * word or punctuation ends a citation.
 */
function tokenize(text: string, prose: boolean): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const ch = text[i] as string;
    if (/\s/.test(ch)) {
      i++;
    } else if (ch === '"' || ch === '`') {
      const end = text.indexOf(ch, i + 1);
      const body = text.slice(i + 1, end === -1 ? text.length : end);
      i = end === -1 ? text.length : end + 1;
      if (ch === '"') tokens.push({ t: 'quote', v: body.replace(/\s+/g, ' ').trim() });
      else if (/\.test\.ts$/.test(body)) tokens.push({ t: 'file', v: body.split('/').pop() as string });
      else tokens.push({ t: 'reset' });
    } else if (ch === '(' && !prose) {
      let depth = 0;
      let j = i;
      for (; j < text.length; j++) {
        const c = text[j];
        if (c === '"' || c === '`') j = Math.max(j, text.indexOf(c, j + 1));
        else if (c === '(') depth++;
        else if (c === ')' && --depth === 0) break;
      }
      tokens.push({ t: 'paren', v: text.slice(i + 1, j) });
      i = j + 1;
    } else if (ch === '›') {
      tokens.push({ t: 'sep' });
      i++;
    } else if (ch === ',') {
      tokens.push({ t: 'comma' });
      i++;
    } else if (ch === ';') {
      tokens.push({ t: 'semi' });
      i++;
    } else {
      const word = /^[^\s"`(),;›]+/.exec(text.slice(i))?.[0] ?? ch;
      i += word.length;
      tokens.push(word === 'and' ? { t: 'and' } : { t: 'reset' });
    }
  }
  return tokens;
}

/** A cited title matches a real one exactly, with "..." standing for any text, or as its tail (a case name). */
function matches(cited: string, title: string): 'exact' | 'fragment' | undefined {
  const real = title.replace(/\s+/g, ' ').trim();
  if (cited === real) return 'exact';
  if (cited.includes('...')) {
    const pattern = cited
      .split('...')
      .map((part) => part.trim().replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    return new RegExp(`^${pattern}$`, 's').test(real) ? 'exact' : undefined;
  }
  return real.endsWith(` ${cited}`) ? 'fragment' : undefined;
}

interface Citation {
  where: string;
  file: string;
  title?: string;
  /** Real nodes it names. */
  found: TestNode[];
  fragment: boolean;
  /** "(N cases)" written right after it. */
  cases?: number;
}

const startsWith = (path: string[], prefix: string[]) =>
  path.length > prefix.length && prefix.every((part, i) => path[i] === part);

/**
 * Resolves the citations in `text`: `file` › "describe" › "title", "sibling"; a clause after ';' without
 * a file keeps the previous one. Each title is looked up under what the title before a › named.
 */
function resolveCitations(text: string, where: string, prose: boolean, tree: TestNode[]): Citation[] {
  const out: Citation[] = [];
  let file: string | undefined;
  let scope: string[][] = [[]];
  let siblingScope: string[][] = [[]];
  let current: TestNode[] | undefined;
  let last: Citation | undefined;
  for (const token of tokenize(text, prose)) {
    if (token.t === 'file') {
      file = token.v;
      scope = [[]];
      siblingScope = [[]];
      current = undefined;
      const exists = readdirSync(TEST_DIR).includes(file);
      out.push({ where, file, found: exists ? [{ file, kind: 'describe', path: [] }] : [], fragment: false });
      last = undefined;
    } else if (token.t === 'quote') {
      if (file === undefined) {
        if (!prose) out.push({ where, file: '(none)', title: token.v, found: [], fragment: false });
        continue;
      }
      const inFile = tree.filter((node) => node.file === file);
      const found: TestNode[] = [];
      let fragment = false;
      for (const node of inFile) {
        if (!scope.some((prefix) => startsWith(node.path, prefix))) continue;
        const kind = matches(token.v, node.path.at(-1) as string);
        if (!kind) continue;
        found.push(node);
        if (kind === 'fragment') fragment = true;
      }
      last = { where, file, title: token.v, found, fragment };
      out.push(last);
      siblingScope = scope;
      current = found;
    } else if (token.t === 'sep') {
      if (current) scope = current.map((node) => node.path);
    } else if (token.t === 'comma' || token.t === 'and') {
      scope = siblingScope;
    } else if (token.t === 'semi') {
      scope = [[]];
      siblingScope = [[]];
      current = undefined;
      last = undefined;
      if (prose) file = undefined;
    } else if (token.t === 'paren') {
      const count = /^(\d+) cases$/.exec(token.v.trim());
      if (count && last) last.cases = Number(count[1]);
    } else if (prose) {
      file = undefined;
      current = undefined;
      last = undefined;
      scope = [[]];
      siblingScope = [[]];
    }
  }
  return out;
}

/** The "Covered by" column of docs/threat-model.md, row by row. */
function threatModelCitations(tree: TestNode[]): Citation[] {
  const doc = 'docs/threat-model.md';
  const lines = readFileSync(join(ROOT, doc), 'utf8').split('\n');
  const out: Citation[] = [];
  lines.forEach((line, index) => {
    if (!line.startsWith('|') || /^\|\s*(Threat|---)/.test(line)) return;
    const cells = line.split('|');
    const covered = cells[cells.length - 2] ?? '';
    out.push(...resolveCitations(covered, `${doc}:${index + 1}`, false, tree));
  });
  return out;
}

/** The `file` › "title" citations of the other guides, whose titles may wrap across lines. */
function guideCitations(tree: TestNode[]): Citation[] {
  const out: Citation[] = [];
  for (const doc of [
    'README.md',
    'docs/webhooks.md',
    'docs/going-live.md',
    'docs/several-instances.md',
    'docs/corporate-networks.md',
    'docs/diagnostics.md',
  ]) {
    const text = readFileSync(join(ROOT, doc), 'utf8');
    // Paragraphs outside code blocks and comments, each read as one line; cited at its first line.
    const lines = text.split('\n');
    let inCode = false;
    let start = -1;
    let para: string[] = [];
    const flush = () => {
      if (para.length > 0) out.push(...resolveCitations(para.join(' '), `${doc}:${start + 1}`, true, tree));
      para = [];
    };
    lines.forEach((line, index) => {
      if (/^\s*```/.test(line)) {
        flush();
        inCode = !inCode;
        return;
      }
      if (inCode || /^\s*<!--/.test(line)) return;
      if (line.trim() === '') {
        flush();
        return;
      }
      if (para.length === 0) start = index;
      para.push(line);
    });
    flush();
  }
  return out;
}

const show = (c: Citation) => `${c.where}: \`${c.file}\`${c.title === undefined ? '' : ` › "${c.title}"`}`;

describe('test citations in the guides', function () {
  this.timeout(120_000);

  it('should name in docs/threat-model.md only test files and titles that exist', async () => {
    const citations = threatModelCitations(await testTree());
    expect(citations.length, 'citations read').to.be.greaterThan(100);
    const broken = citations.filter((c) => c.found.length === 0).map(show);
    expect(broken, 'citations that name no test').to.deep.equal([]);
  });

  it('should name in the other guides only test files and titles that exist', async () => {
    const citations = guideCitations(await testTree());
    expect(citations.filter((c) => c.title !== undefined).length, 'titled citations read').to.be.greaterThan(3);
    const broken = citations.filter((c) => c.found.length === 0).map(show);
    expect(broken, 'citations that name no test').to.deep.equal([]);
  });

  it('should cite as many cases as a "(N cases)" after a title says', async () => {
    const counted = threatModelCitations(await testTree()).filter((c) => c.cases !== undefined);
    expect(counted, 'counted citations').to.not.have.length(0);
    const wrong = counted
      .filter((c) => c.found.filter((n) => n.kind === 'it').length !== c.cases)
      .map((c) => `${show(c)}: says ${c.cases} cases, the file has ${c.found.filter((n) => n.kind === 'it').length}`);
    expect(wrong).to.deep.equal([]);
  });
});
