// The files generated from the op table (scripts/gen-ops.js) are committed: this fails when one
// differs from what the table gives now (run npm run gen), and checks that the table covers
// exactly the Backend's kernels.
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { OP_NAMES } from '../lib/backend/ops';
import { jsBackend } from '../lib/backend/js';

const root = path.resolve(__dirname, '..');

test('the generated files are up to date with lib/backend/ops.ts', () => {
  const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'gen-ops.js'), '--check'], { cwd: root, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
});

test('the op table lists every kernel of the Backend, and nothing else', () => {
  const kernels = Object.keys(jsBackend).filter((k) => !['name', 'getThreads', 'setThreads'].includes(k));
  expect([...OP_NAMES].sort()).toEqual(kernels.sort());
});

test("the native binding registers the table's entry points from the generated list", () => {
  const binding = fs.readFileSync(path.join(root, 'native', 'binding.cc'), 'utf8');
  expect(binding).toContain('NEURONE_FOR_EACH_OP(NEURONE_METHOD)');
  expect(binding.split('\n').length).toBeLessThan(300);
});
