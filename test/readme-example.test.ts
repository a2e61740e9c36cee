/**
 * The README's examples run as written (imports pointed at this checkout) and print what their
 * comments say they print: the XOR example a small final loss and the four XOR outputs rounded to
 * 0 / 1, the hand-written loop its accuracy. An example that trains silently (`verbose: 0` and no
 * print) fails here.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { tsFile } from './ts-child';

const root = path.join(__dirname, '..');

/** The ```ts block of README.md that holds `marker`. */
function readmeBlock(what: string, marker: string): string {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  const block = blocks.find((b) => b.includes(marker));
  if (!block) throw new Error(`README.md has no ${what} example`);
  return block;
}

/** A README block as a program of this checkout: its imports pointed at lib/, the rest in an async function (for top-level await). */
function asProgram(code: string): string {
  const imports = code.split('\n').filter((l) => l.startsWith('import '));
  const body = code.split('\n').filter((l) => !l.startsWith('import '));
  return [
    ...imports.map((l) =>
      l
        .replace(/from 'neurone'/, `from ${JSON.stringify(path.join(root, 'lib', 'index'))}`)
        .replace(/from 'neurone\/data'/, `from ${JSON.stringify(path.join(root, 'lib', 'data'))}`),
    ),
    'export {};',
    '(async () => {',
    ...body,
    '})().catch((e) => { console.error(e); process.exit(1); });',
  ].join('\n');
}

/** Runs a README block from this checkout; its stdout and the lines its comments promise. */
function runBlock(code: string): { stdout: string; lines: string[]; promised: string[] } {
  const program = asProgram(code);
  const file = path.join(__dirname, `.readme-example-${process.pid}.ts`);
  fs.writeFileSync(file, program);
  try {
    const r = spawnSync(process.execPath, [...tsFile(file)], { cwd: root, encoding: 'utf8', timeout: 120000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const promised = code
      .split('\n')
      .filter((l) => l.startsWith('// '))
      .map((l) => l.slice(3));
    return { stdout: r.stdout, lines: r.stdout.trim().split('\n'), promised };
  } finally {
    fs.rmSync(file, { force: true });
  }
}

test("the README's XOR example prints its loss and the four predictions it promises", () => {
  const { stdout, lines, promised } = runBlock(readmeBlock('XOR', '[[0, 0], [0, 1], [1, 0], [1, 1]]'));
  expect(lines.length).toBeGreaterThanOrEqual(2);
  const loss = Number(/final loss (\S+)/.exec(stdout)?.[1]);
  expect(loss).toBeLessThan(0.05);
  const outputs = /XOR of 00 01 10 11: (.*)/.exec(stdout)?.[1].split(' ').map(Number) ?? [];
  expect(outputs.map(Math.round)).toEqual([0, 1, 1, 0]);
  // What the README's comments promise is what it prints.
  expect(promised.length).toBe(2);
  expect(promised[1].replace(/\d\.\d\d/g, 'p')).toBe(lines[lines.length - 1].replace(/\d\.\d\d/g, 'p'));
});

test("the README's hand-written loop trains XOR and prints the accuracy it promises", () => {
  const { lines, promised } = runBlock(readmeBlock('hand-written loop', 'optimizer.step(net.parameters())'));
  expect(lines).toEqual(promised);
  expect(Number(/train accuracy (\S+)/.exec(lines[0])?.[1])).toBeGreaterThanOrEqual(0.95);
});

test("the whole programs of README.md and docs/API.md (the blocks with imports) type-check under tsc --strict, as a user's project would", () => {
  const docs = ['README.md', path.join('docs', 'API.md')].map((f) => fs.readFileSync(path.join(root, f), 'utf8')).join('\n');
  const programs = [...docs.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]).filter((b) => b.includes("from 'neurone"));
  expect(programs.length).toBeGreaterThanOrEqual(5);
  const dir = fs.mkdtempSync(path.join(__dirname, '.readme-types-'));
  try {
    const files = programs.map((code, i) => {
      const file = path.join(dir, `block${i}.ts`);
      fs.writeFileSync(file, asProgram(code));
      return file;
    });
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const args = ['--noEmit', '--strict', '--skipLibCheck', '--target', 'es2022', '--module', 'commonjs', '--types', 'node'];
    const r = spawnSync(process.execPath, [tsc, ...args, ...files], { cwd: root, encoding: 'utf8', timeout: 120000 });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
