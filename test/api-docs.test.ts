/**
 * The API pages (`npm run docs`, TypeDoc with scripts/typedoc-*.mjs): rendered into a temporary
 * folder, a class whose parent is an unexported base (BCELoss extends FusedLoss, Conv2D extends
 * Convolution2D) is shown under its nearest exported ancestor, never under the hidden base.
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

const root = path.join(__dirname, '..');
let out: string;

/** A page's text without tags, whitespace collapsed. */
function pageText(name: string): string {
  const html = fs.readFileSync(path.join(out, 'classes', `index.${name}.html`), 'utf8');
  return html
    .replace(/<[^>]+>/g, ' ')
    .replace(/&[a-z]+;/g, ' ')
    .replace(/\s+/g, ' ');
}

/** The class names the page's hierarchy lists, in order. */
function hierarchy(name: string): string[] {
  const text = pageText(name);
  const from = text.indexOf('Hierarchy');
  const to = text.indexOf(' Index ', from);
  return text
    .slice(from, to)
    .replace(/Hierarchy|\( View Summary \)/g, ' ')
    .trim()
    .split(' ');
}

beforeAll(() => {
  out = fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-api-docs-'));
  const typedoc = path.join(root, 'node_modules', 'typedoc', 'bin', 'typedoc');
  const r = spawnSync(process.execPath, [typedoc, '--treatWarningsAsErrors', '--out', out], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`typedoc failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
}, 120000);

afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

test('classes over an unexported base hang under the nearest exported ancestor, which lists them', () => {
  expect(hierarchy('BCELoss')).toEqual(['Loss', 'BCELoss']);
  expect(hierarchy('CELogSoftmaxLoss')).toEqual(['Loss', 'CELogSoftmaxLoss']);
  expect(hierarchy('Conv2D')).toEqual(['Module', 'Conv2D']);
  expect(hierarchy('BatchNorm2D')).toEqual(['Module', 'BatchNorm2D']);
  expect(hierarchy('Loss')).toEqual(expect.arrayContaining(['BCELoss', 'CELogSoftmaxLoss', 'MSELoss']));
  expect(hierarchy('Module')).toEqual(expect.arrayContaining(['Conv2D', 'MaxPool2D', 'BatchNorm2D', 'ReLU', 'Linear']));
});

test('inherited members name the exported ancestor, never a hidden base', () => {
  const bce = pageText('BCELoss');
  expect(bce).toMatch(/Inherited from Loss \. sum/);
  const hidden = /(Inherited from|Overrides) (FusedLoss|Convolution2D|Pool2D|BatchNorm|Elementwise|RowSoftmax) \./;
  for (const page of [
    'BCELoss',
    'CELogSoftmaxLoss',
    'Conv2D',
    'ConvTranspose2D',
    'MaxPool2D',
    'AvgPool2D',
    'BatchNorm1D',
    'BatchNorm2D',
    'ReLU',
    'Softmax',
  ])
    expect(pageText(page)).not.toMatch(hidden);
  // The base's documented members keep their docs on the class's page.
  expect(pageText('Conv2D')).toContain("PyTorch's are (chanOut, chanIn, kH, kW)");
});

test('every exported class has its doc comment right above it, where TypeDoc reads it', () => {
  // A comment with another declaration between it and its class documents nothing: Conv1D's and
  // ConvTranspose1D's pages were rendered without their descriptions that way.
  const misplaced: string[] = [];
  const visit = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const file = path.join(dir, entry.name);
      if (entry.isDirectory()) visit(file);
      else if (entry.name.endsWith('.ts')) {
        const lines = fs.readFileSync(file, 'utf8').split('\n');
        lines.forEach((line, i) => {
          const name = /^export (?:abstract )?class (\w+)/.exec(line)?.[1];
          if (!name) return;
          let j = i - 1;
          while (j >= 0 && lines[j].trim() === '') j--;
          if (j < 0 || !lines[j].trim().endsWith('*/')) misplaced.push(`${path.relative(root, file)}: ${name}`);
        });
      }
    }
  };
  visit(path.join(root, 'lib'));
  expect(misplaced).toEqual([]);
  expect(pageText('Conv1D')).toContain('1-D convolution (cross-correlation');
  expect(pageText('ConvTranspose1D')).toContain('Transposed 1-D convolution');
});
