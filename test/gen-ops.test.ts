// The files generated from the op table (scripts/gen-ops.js) are committed: this fails when one
// differs from what the table gives now (run npm run gen), and checks that the table covers
// exactly the Backend's kernels; and that the module classes declared beside their code (the
// activations) reach the registry and the exports without a list of their own.
import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { OP_NAMES } from '../lib/backend/ops';
import { jsBackend } from '../lib/backend/js';
import * as nn from '../lib/nn';
import * as activations from '../lib/nn/activations';
import { Module } from '../lib/nn/base';
import { moduleType } from '../lib/nn/registry';

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

test('every module class lib/nn exports is a registered built-in type, the activations included', () => {
  const classes = Object.entries(nn).filter(([, v]) => typeof v === 'function' && v.prototype instanceof Module);
  for (const [name] of classes) expect(moduleType(name)?.builtIn).toBe(true);
  for (const name of Object.keys(activations)) expect(classes.map(([n]) => n)).toContain(name);
  expect(Object.keys(activations).length).toBeGreaterThanOrEqual(9);
});
