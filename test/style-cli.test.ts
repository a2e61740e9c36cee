/**
 * `neurone style`: a normal run writes a PNG of the requested size; hostile input (a missing file,
 * bytes that are not a PNG, a truncated PNG, a header announcing more pixels than the run allows,
 * bad flags) exits 2 with one line on stderr and writes nothing. Most cases call the command in
 * this process; one run of each kind goes through the real command line (tsx, as
 * test/cli.test.ts does).
 */
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as zlib from 'zlib';
import { styleCommand } from '../lib/cli/style';
import { readImage, writeImage } from '../lib/data/image';
import { wrap } from '../lib/tensor';
import { tsFile } from './ts-child';
import { CommandRun, runInProcess } from './in-process';
import { hasScript, inTerminal } from './terminal';

const root = path.join(__dirname, '..');
/** A safety net against a hang (the test then fails on a null exit code), not a timing threshold. */
const HANG_GUARD_MS = 120000;

let tmp: string;
let content: string;
let style: string;

function gradient(h: number, w: number): Float32Array {
  const d = new Float32Array(h * w * 3);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) d.set([y / h, x / w, (x + y) % 5 < 2 ? 1 : 0], (y * w + x) * 3);
  return d;
}

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-style-cli-'));
  content = path.join(tmp, 'content.png');
  style = path.join(tmp, 'style.png');
  writeImage(content, wrap([30, 40, 3], gradient(30, 40)));
  writeImage(style, wrap([32, 32, 3], gradient(32, 32).reverse()));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Runs the command in this process: its exit code, what it printed and what went to stderr. */
const run = (args: string[]): Promise<CommandRun> => runInProcess(styleCommand, args);

/** Exit 2, one line on stderr with one `neurone: ` prefix, no stack trace, and no output file. */
function expectRefused(r: { code: number | null; stderr: string }, pattern: RegExp, out: string): void {
  expect(r.stderr).not.toMatch(/\n\s+at /);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^neurone: style: /);
  expect(lines[0]).toMatch(pattern);
  expect(r.code).toBe(2);
  expect(fs.existsSync(out)).toBe(false);
  // No temporary file left beside it either.
  if (fs.existsSync(path.dirname(out))) expect(fs.readdirSync(path.dirname(out)).filter((f) => f.includes(path.basename(out)))).toEqual([]);
}

/** A valid 1×1 PNG whose header is rewritten to announce `width`×`height` pixels (CRC kept right). */
function pngClaiming(width: number, height: number): Buffer {
  const file = path.join(tmp, 'one.png');
  writeImage(file, wrap([1, 1, 3], new Float32Array(3)));
  const bytes = fs.readFileSync(file);
  bytes.writeUInt32BE(width, 16);
  bytes.writeUInt32BE(height, 20);
  bytes.writeUInt32BE(zlib.crc32(bytes.subarray(12, 29)), 29);
  return bytes;
}

describe('neurone style, in process', () => {
  test('a normal run writes a PNG whose longest side is --size', async () => {
    const out = path.join(tmp, 'ok.png');
    const r = await run(['--content', content, '--style', style, '--out', out, '--size', '24', '--steps', '4', '--seed', '3']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/content .*content\.png at 24×18, style .*style\.png at 24×24; random features \(seed 3\), 4 steps/);
    expect(r.stdout).toMatch(/loss \S+ → \S+ \(content \S+, style \S+\); .*ok\.png written \(24×18\)/);
    expect(readImage(out).shape).toEqual([18, 24, 3]);
    // Not a terminal: a line at every tenth of the steps (each of 4) in place of the bar.
    expect(r.stdout.match(/^stage 1\/1 {2}step \d\/4 {2}loss \S+$/gm)).toEqual(
      [1, 2, 3, 4].map((s) => expect.stringContaining(`step ${s}/4`)),
    );
  });

  test('--features trained trains first, then writes the result', async () => {
    const out = path.join(tmp, 'trained.png');
    const r = await run(['--content', content, '--style', style, '--out', out, '--size', '32', '--steps', '2']);
    expect(r.code).toBe(0);
    const t = await run([
      '--content',
      content,
      '--style',
      style,
      '--out',
      out + '2.png',
      '--size',
      '32',
      '--steps',
      '2',
      '--features',
      'trained',
      '--train-steps',
      '2',
      '--quiet',
    ]);
    expect(t.stderr).toBe('');
    expect(t.code).toBe(0);
    expect(t.stdout).toBe('');
    expect(readImage(out + '2.png').shape).toEqual([24, 32, 3]);
  });

  test('--help prints the usage, with the bounds on the inputs, and exits 0', async () => {
    const r = await run(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: neurone style --content FILE --style FILE --out FILE/);
    expect(r.stdout).toMatch(/--features KIND +random \(default\) or trained/);
    expect(r.stdout).toMatch(/at most 16,777,216 pixels/);
  });

  const refused: [string, () => string[], RegExp][] = [
    [
      'a missing content file',
      () => ['--content', path.join(tmp, 'nope.png'), '--style', style],
      /--content: .*nope\.png: cannot read \(no such file\)/,
    ],
    [
      'a style file that is not a PNG',
      () => ['--content', content, '--style', path.join(tmp, 'text.png')],
      /--style: .*text\.png: not a PNG file: no PNG signature/,
    ],
    ['a truncated PNG', () => ['--content', path.join(tmp, 'cut.png'), '--style', style], /--content: .*cut\.png: truncated PNG/],
    [
      'a header announcing 5000×4000 pixels',
      () => ['--content', content, '--style', path.join(tmp, 'huge.png')],
      /--style: .*huge\.png: 5000×4000 pixels, more than the 16777216/,
    ],
    [
      '--size above the bound',
      () => ['--content', content, '--style', style, '--size', '513'],
      /--size must be an integer in \[16, 512\], got '513'/,
    ],
    ['--size below the bound', () => ['--content', content, '--style', style, '--size', '8'], /--size must be an integer >= 16, got '8'/],
    [
      '--steps not a number',
      () => ['--content', content, '--style', style, '--steps', 'many'],
      /--steps must be an integer >= 0 in decimal digits, got 'many'/,
    ],
    [
      '--steps in exponent notation, read as by every command',
      () => ['--content', content, '--style', style, '--steps', '1e3'],
      /--steps must be an integer >= 0 in decimal digits, got '1e3'/,
    ],
    [
      'a negative --style-weight',
      () => ['--content', content, '--style', style, '--style-weight', '-1'],
      /--style-weight must be a finite float32 number >= 0, got '-1'/,
    ],
    [
      'a --style-weight whose factor in the gradient is beyond float32',
      () => ['--content', content, '--style', style, '--style-weight', '3e38'],
      /--content-weight 1 \(the default\) and --style-weight 3e38 make the loss's gradient overflow float32/,
    ],
    [
      'a --style-weight whose gradient Adam would square beyond float32',
      () => ['--content', content, '--style', style, '--style-weight', '1e25', '--content-weight', '0'],
      /--content-weight 0 and --style-weight 1e25 make the loss's gradient overflow float32/,
    ],
    ['--lr 0', () => ['--content', content, '--style', style, '--lr', '0'], /--lr must be a finite float32 number > 0, got '0'/],
    [
      'a weight in hexadecimal (Number() would read 16)',
      () => ['--content', content, '--style', style, '--style-weight', '0x10'],
      /--style-weight must be a finite float32 number >= 0, got '0x10'/,
    ],
    [
      '--lr beyond float32',
      () => ['--content', content, '--style', style, '--lr', '1e39'],
      /--lr must be a finite float32 number > 0, got '1e39'/,
    ],
    [
      '--lr that is 0 in float32',
      () => ['--content', content, '--style', style, '--lr', '1e-46'],
      /--lr must be a finite float32 number > 0, got '1e-46'/,
    ],
    [
      'an unknown --features',
      () => ['--content', content, '--style', style, '--features', 'vgg'],
      /bad value for --features: 'vgg' \(expected one of random, trained\)/,
    ],
    [
      '--train-steps without trained features',
      () => ['--content', content, '--style', style, '--train-steps', '5'],
      /--train-steps applies only to --features trained/,
    ],
    [
      'a mistyped flag',
      () => ['--content', content, '--style', style, '--stpes', '5'],
      /unknown option '--stpes' \(did you mean --steps\?\)/,
    ],
    ['no --style', () => ['--content', content], /--style FILE is required/],
    [
      'an image too elongated for the size',
      () => ['--content', path.join(tmp, 'thin.png'), '--style', style, '--size', '16'],
      /--content: at --size 16 the image is 16×2; both sides must be at least 16/,
    ],
    [
      // Refused from its header: decoded, its one pixel of data would be refused another way.
      'a header announcing an image too elongated for the size, the style image too',
      () => ['--content', content, '--style', path.join(tmp, 'tall.png'), '--size', '512'],
      /--style: at --size 512 the image is 1×512; both sides must be at least 16/,
    ],
    [
      'a chunk whose type is an escape sequence, cut short: its type in hex',
      () => ['--content', path.join(tmp, 'escape.png'), '--style', style],
      /--content: .*escape\.png: truncated PNG: its 0x1b5b324a chunk at byte 33 needs 1045 bytes, the file has 41$/,
    ],
  ];

  test.each(refused)('%s: exit 2, one line, nothing written', async (_, args, pattern) => {
    fs.writeFileSync(path.join(tmp, 'text.png'), 'not an image at all\n');
    const whole = fs.readFileSync(content);
    fs.writeFileSync(path.join(tmp, 'cut.png'), whole.subarray(0, Math.floor(whole.length / 2)));
    fs.writeFileSync(path.join(tmp, 'huge.png'), pngClaiming(5000, 4000));
    writeImage(path.join(tmp, 'thin.png'), wrap([4, 40, 3], new Float32Array(480).fill(0.5)));
    fs.writeFileSync(path.join(tmp, 'tall.png'), pngClaiming(1, 60000));
    const header = fs.readFileSync(content).subarray(0, 33); // signature and IHDR
    const chunk = Buffer.alloc(8);
    chunk.writeUInt32BE(1000, 0);
    chunk.write('\x1b[2J', 4, 'latin1');
    fs.writeFileSync(path.join(tmp, 'escape.png'), Buffer.concat([header, chunk]));
    const out = path.join(tmp, 'refused.png');
    const a = args();
    const r = await run(a.includes('--out') ? a : [...a, '--out', out]);
    expectRefused(r, pattern, out);
  });

  test('--out in a missing folder, or naming an input, is refused before any work', async () => {
    const out = path.join(tmp, 'no', 'such', 'dir.png');
    expectRefused(await run(['--content', content, '--style', style, '--out', out]), /--out: folder .* does not exist/, out);
    const before = fs.readFileSync(style);
    const r = await run(['--content', content, '--style', style, '--out', style]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^neurone: style: --out: .*style\.png is also an input; it would be overwritten\n$/);
    expect(fs.readFileSync(style).equals(before)).toBe(true);
    // The result is a PNG whatever the name: a .jpg would be a PNG under another name.
    const jpg = path.join(tmp, 'result.jpg');
    expectRefused(
      await run(['--content', content, '--style', style, '--out', jpg]),
      /--out .*result\.jpg: the result is written as a PNG; name it \.png \(got \.jpg\)/,
      jpg,
    );
    // A folder name with its slash, and a folder nothing can be created in: said before the work.
    const folder = path.join(tmp, 'outdir') + path.sep;
    expectRefused(
      await run(['--content', content, '--style', style, '--out', folder]),
      /--out: .*outdir\/ names a folder; expected a file name/,
      folder,
    );
    // The same input through a link to its folder, or under a link's name: the same file.
    const linked = path.join(tmp, 'linked');
    fs.symlinkSync(tmp, linked);
    const alias = path.join(tmp, 'alias.png');
    fs.symlinkSync(style, alias);
    for (const [input, out] of [
      [style, path.join(linked, 'style.png')],
      [alias, style],
    ]) {
      const through = await run(['--content', content, '--style', input, '--out', out]);
      expect([through.code, through.stderr]).toEqual([
        2,
        expect.stringMatching(/^neurone: style: --out: .* is also an input; it would be overwritten\n$/),
      ]);
    }
    expect(fs.readFileSync(style).equals(before)).toBe(true);
    // A link at the output name that loops is no file: replaced by the result, as the writer does.
    const loop = path.join(tmp, 'loop.png');
    fs.symlinkSync('loop.png', loop);
    const looped = await run(['--content', content, '--style', style, '--out', loop, '--size', '24', '--steps', '1', '--quiet']);
    expect([looped.code, looped.stderr]).toEqual([0, '']);
    expect(readImage(loop).shape).toEqual([18, 24, 3]);
    // A name the system refuses (too long), and a read-only file (for a user other than root):
    // said before the work, not after it.
    const long = path.join(tmp, `${'a'.repeat(256)}.png`);
    expectRefused(await run(['--content', content, '--style', style, '--out', long]), /--out: cannot inspect .* \(ENAMETOOLONG: /, long);
    const locked = path.join(tmp, 'locked.png');
    fs.copyFileSync(style, locked);
    fs.chmodSync(locked, 0o444);
    const uid = jest.spyOn(process, 'getuid').mockReturnValue(1000);
    try {
      const ro = await run(['--content', content, '--style', style, '--out', locked]);
      expect([ro.code, ro.stderr]).toEqual([
        2,
        `neurone: style: --out: ${locked}: it is read-only (mode 0444); make it writable or remove it first\n`,
      ]);
    } finally {
      uid.mockRestore();
    }
    if (fs.existsSync('/proc/self')) {
      const t0 = Date.now();
      expectRefused(
        await run(['--content', content, '--style', style, '--out', '/proc/x.png']),
        /--out: cannot create files in \/proc \(/,
        '/proc/x.png',
      );
      expect(Date.now() - t0).toBeLessThan(5000);
    }
  });
});

describe('neurone style, through the command line', () => {
  const cli = (args: string[]) => {
    const r = spawnSync(process.execPath, [...tsFile(path.join(root, 'lib', 'cli', 'main.ts')), 'style', ...args], {
      cwd: root,
      encoding: 'utf8',
      timeout: HANG_GUARD_MS,
      env: { ...process.env, NEURONE_BACKEND: '' },
    });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };

  test('writes the PNG; a truncated input exits 2 with one line and no file', () => {
    const out = path.join(tmp, 'cli.png');
    const ok = cli(['--content', content, '--style', style, '--out', out, '--size', '24', '--steps', '2']);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(readImage(out).shape).toEqual([18, 24, 3]);
    const whole = fs.readFileSync(style);
    const cut = path.join(tmp, 'cut-style.png');
    fs.writeFileSync(cut, whole.subarray(0, whole.length - 20));
    const bad = path.join(tmp, 'cli-bad.png');
    expectRefused(cli(['--content', content, '--style', cut, '--out', bad]), /--style: .*cut-style\.png: truncated PNG/, bad);
  });

  // In a terminal the bar draws, and a ^C typed there reaches the command as SIGINT. The
  // optimisation runs between turns of the event loop, so the bar's handler runs at once, not
  // after the last step.
  /** Well under jest's timeout: a run that ignores the Ctrl-C fails on the assertions, not the timeout. */
  const INTERRUPT_GUARD_MS = 30000;
  (hasScript ? test : test.skip)('Ctrl-C during the steps: exit 130 at once, the cursor shown again, nothing written', async () => {
    const out = path.join(tmp, 'interrupted.png');
    const args = [...tsFile(path.join(root, 'lib', 'cli', 'main.ts')), 'style', '--content', content, '--style', style, '--out', out];
    // 100,000 steps at size 64: minutes of work, were the interrupt to wait for its end.
    const {
      out: output,
      code,
      sent,
    } = await inTerminal([...args, '--size', '64', '--steps', '100000'], { interrupt: true, guardMs: INTERRUPT_GUARD_MS });
    expect(sent).toBe(true);
    expect(code).toBe(130); // script -e passes the command's status on
    expect(output).not.toMatch(/written/);
    expect(output).toContain('stage 1/1'); // random features: the image is the only stage
    expect(output.lastIndexOf('\x1b[?25h')).toBeGreaterThan(output.lastIndexOf('\x1b[?25l'));
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readdirSync(tmp).filter((f) => f.includes('interrupted'))).toEqual([]);
  });
});
