import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect } from 'chai';
import { checkSnippets, parseDocument, type SnippetDocument, type SnippetError } from './support/snippets.js';

const run = promisify(execFile);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TSC = path.join(ROOT, 'node_modules', '.bin', process.platform === 'win32' ? 'tsc.cmd' : 'tsc');
const SHARED_PRELUDE = path.join(ROOT, 'test', 'snippets', 'prelude.ts');
// Inside the package, so that 'passport-itsme' resolves to the built package by its own name.
const OUT = path.join(ROOT, 'test-artifacts', 'snippets');

const DOCS = [
  'README.md',
  ...readdirSync(path.join(ROOT, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];

function format(errors: SnippetError[]): string {
  return errors.map((e) => `${e.doc}:${e.line}: ${e.message}`).join('\n');
}

describe('snippets', function () {
  this.timeout(120_000);
  const documents: SnippetDocument[] = DOCS.map((doc) =>
    parseDocument(doc, readFileSync(path.join(ROOT, doc), 'utf8')),
  );
  let errors: SnippetError[] = [];

  before(async () => {
    if (!existsSync(path.join(ROOT, 'dist/index.d.ts')) || !existsSync(path.join(ROOT, 'dist/simulator/index.d.ts'))) {
      await run(process.platform === 'win32' ? 'npm.cmd' : 'npm', ['run', 'build'], { cwd: ROOT });
    }
    errors = await checkSnippets(documents, { dir: path.join(OUT, 'docs'), sharedPrelude: SHARED_PRELUDE, tsc: TSC });
  });

  describe('the documentation', () => {
    it('should have TypeScript blocks to check in the README', () => {
      expect(documents.find((d) => d.doc === 'README.md')?.snippets.length).to.be.at.least(2);
    });

    it('should leave no error outside the documents', () => {
      const known = new Set(DOCS);
      expect(format(errors.filter((e) => !known.has(e.doc)))).to.equal('');
    });

    it('should leave no code unchecked: every fenced block is ts, sh or text, fenced with backticks', () => {
      const unchecked: string[] = [];
      for (const doc of DOCS) {
        const lines = readFileSync(path.join(ROOT, doc), 'utf8').split('\n');
        let open: string | undefined;
        lines.forEach((line, i) => {
          // CommonMark: a fence is 3+ backticks or tildes; it closes on the same character, at least as
          // long, with no info string.
          const fence = /^\s*(`{3,}|~{3,})\s*([^\s`]*)(.*)$/.exec(line);
          if (!fence) return;
          const [, marks = '', lang = '', rest = ''] = fence;
          if (open !== undefined) {
            if (marks[0] === open[0] && marks.length >= open.length && lang === '' && rest.trim() === '') {
              open = undefined;
            }
            return;
          }
          open = marks;
          // As parseDocument reads them: backticks and a bare language (no attributes after it).
          const checked = marks[0] === '`' && rest.trim() === '' && ['ts', 'typescript', 'sh', 'text'].includes(lang);
          if (!checked) unchecked.push(`${doc}:${i + 1} ${marks}${lang}`);
        });
      }
      expect(unchecked).to.deep.equal([]);
    });

    for (const { doc, snippets } of documents.filter((d) => d.snippets.length > 0)) {
      it(`should type-check the ${snippets.length} ts block${snippets.length === 1 ? '' : 's'} of ${doc} against the built package`, () => {
        expect(format(errors.filter((e) => e.doc === doc))).to.equal('');
      });
    }
  });

  describe('links', () => {
    it('should link every page of docs/ from the README', () => {
      const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
      const missing = DOCS.filter((doc) => doc !== 'README.md' && !readme.includes(`](${doc})`));
      expect(missing).to.deep.equal([]);
    });

    it('should point every relative link of README.md and docs/*.md at a file or heading that exists', () => {
      const broken: string[] = [];
      const anchors = (text: string) =>
        new Set(
          [...text.matchAll(/^#+ (.*)$/gm)].map((m) =>
            (m[1] ?? '')
              .toLowerCase()
              .replace(/[^\p{L}\p{N} _-]/gu, '')
              .replace(/ /g, '-'),
          ),
        );
      for (const doc of DOCS) {
        const text = readFileSync(path.join(ROOT, doc), 'utf8').replace(/```[\s\S]*?```/g, '');
        for (const [, target = ''] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
          if (/^[a-z]+:/.test(target)) continue;
          const [file = '', hash] = target.split('#');
          const resolved = file ? path.join(ROOT, path.dirname(doc), file) : path.join(ROOT, doc);
          if (!existsSync(resolved)) broken.push(`${doc}: ${target}`);
          else if (hash && resolved.endsWith('.md') && !anchors(readFileSync(resolved, 'utf8')).has(hash)) {
            broken.push(`${doc}: ${target}`);
          }
        }
      }
      expect(broken).to.deep.equal([]);
    });
  });

  describe('the checker', () => {
    it('should report a wrong block at its line in the document, with the prelude and options applied', async () => {
      const doc = [
        '# Sample',
        '<!-- snippet-options {"experimentalDecorators": true} -->',
        '<!-- snippet-prelude',
        "import type { ItsMeStrategy } from 'passport-itsme';",
        'export declare const strategy: ItsMeStrategy;',
        '-->',
        '```ts',
        "const user = await findOrCreateUser({ provider: 'itsme' });",
        'strategy.name satisfies string;',
        '```',
        '- a list',
        '  ```ts',
        "  import { ItsMeStrategy } from 'passport-itsme';",
        '  const n: number = new ItsMeStrategy({ apiKey: 1 }, () => {}).name;',
        '  ```',
        '```js',
        'this is not checked',
        '```',
        '```ts',
        'function decorate(_t: object, _k: string) {}',
        'class C { @decorate m() {} }',
        'export const c = new C();',
        '```',
      ].join('\n');
      const parsed = parseDocument('sample.md', doc);
      expect(parsed.snippets.map((s) => s.line)).to.deep.equal([8, 13, 20]);
      const found = await checkSnippets([parsed], {
        dir: path.join(OUT, 'self-test'),
        sharedPrelude: SHARED_PRELUDE,
        tsc: TSC,
      });
      const lines = found.map((e) => `${e.doc}:${e.line} ${e.message.slice(0, 12)}`);
      expect(lines).to.include.members(['sample.md:8 error TS2739', 'sample.md:14 error TS2322']);
      expect(found.filter((e) => e.line === 9 || e.line >= 20)).to.deep.equal([]);
    });
  });
});
