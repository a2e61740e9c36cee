/**
 * The README's XOR example runs as written (imports pointed at this checkout) and prints what its
 * comments say it prints: a small final loss and the four XOR outputs rounded to 0 / 1. An
 * example that trains silently (`verbose: 0` and no print) fails here.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { tsFile } from './ts-child';

const root = path.join(__dirname, '..');

/** The ```ts block of README.md that trains XOR. */
function xorExample(): string {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  const block = blocks.find((b) => b.includes('[[0, 0], [0, 1], [1, 0], [1, 1]]'));
  if (!block) throw new Error('README.md has no XOR example');
  return block;
}

test("the README's XOR example prints its loss and the four predictions it promises", () => {
  const code = xorExample();
  // Top-level await is fine in an ES module; here it runs in an async function, from this checkout.
  const imports = code.split('\n').filter((l) => l.startsWith('import '));
  const body = code.split('\n').filter((l) => !l.startsWith('import '));
  const program = [
    ...imports.map((l) => l.replace(/from 'neurone'/, `from ${JSON.stringify(path.join(root, 'lib', 'index'))}`)),
    '(async () => {',
    ...body,
    '})().catch((e) => { console.error(e); process.exit(1); });',
  ].join('\n');
  const file = path.join(__dirname, `.readme-xor-${process.pid}.ts`);
  fs.writeFileSync(file, program);
  try {
    const r = spawnSync(process.execPath, [...tsFile(file)], { cwd: root, encoding: 'utf8', timeout: 120000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(2);
    const loss = Number(/final loss (\S+)/.exec(r.stdout)?.[1]);
    expect(loss).toBeLessThan(0.05);
    const outputs = /XOR of 00 01 10 11: (.*)/.exec(r.stdout)?.[1].split(' ').map(Number) ?? [];
    expect(outputs.map(Math.round)).toEqual([0, 1, 1, 0]);
    // What the README's comments promise is what it prints.
    const promised = code
      .split('\n')
      .filter((l) => l.startsWith('// '))
      .map((l) => l.slice(3));
    expect(promised.length).toBe(2);
    expect(promised[1].replace(/\d\.\d\d/g, 'p')).toBe(lines[lines.length - 1].replace(/\d\.\d\d/g, 'p'));
  } finally {
    fs.rmSync(file, { force: true });
  }
});
