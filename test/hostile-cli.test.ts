/**
 * The `neurone` command against hostile surroundings: paths that cannot be written, a reader that
 * closes the pipe, Ctrl-C during the progress bar, a full disk after training, values that do not
 * survive the trip to float32, a bad NEURONE_BACKEND. Each runs the real command in a child process
 * (through tsx, as test/cli.test.ts does) on the smallest dataset the command has (xor).
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseTrainArgs, UsageError } from '../lib/cli/train-args';
import { ResumeFolder } from '../lib/cli/train-resume';
import { tsFile } from './ts-child';
import { headOne } from './head-one';
import { hasScript, inTerminal } from './terminal';

const root = path.join(__dirname, '..');
const cliArgs = tsFile(path.join(root, 'lib', 'cli', 'main.ts'));

/** A safety net against a hang (the test then fails on a null exit code), not a timing threshold. */
const HANG_GUARD_MS = 90000;

function cli(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [...cliArgs, ...args], {
    cwd: root,
    encoding: 'utf8',
    timeout: HANG_GUARD_MS,
    env: { ...process.env, NEURONE_BACKEND: '', ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Exit code 2, one line on stderr with a single `neurone: ` prefix, no stack trace. */
function expectUsageError(r: ReturnType<typeof cli>, pattern: RegExp): void {
  expect(r.stderr).not.toMatch(/\n\s+at /);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^neurone: (?!neurone:)/);
  expect(lines[0]).toMatch(pattern);
  expect(r.code).toBe(2);
}

function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).status === 0;
}

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-hostile-cli-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('numbers are parsed as float32 values in their documented ranges', () => {
  const bad = (args: string[], pattern: RegExp): void => {
    let err: unknown;
    try {
      parseTrainArgs(args);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toMatch(pattern);
  };

  test('--lr 1e39 overflows float32 and is refused at parse time', () => bad(['--lr', '1e39'], /--lr: 1e39 .*float32/));
  test('--lr 1e-46 is 0 in float32, which the rule lr > 0 refuses', () =>
    bad(['--lr', '1e-46'], /--lr: 1e-46 \(0 as float32\) \(must be > 0\)/));
  test('--momentum 0.99999999999 is 1 in float32, outside [0, 1)', () =>
    bad(['--momentum', '0.99999999999'], /--momentum.*1 as float32.*must be < 1/));
  test('--weight-decay 1e39 overflows float32', () => bad(['--weight-decay', '1e39'], /--weight-decay: 1e39 .*float32/));
  test('--val-fraction 0.999999999 is 1 in float32', () => bad(['--val-fraction', '0.999999999'], /--val-fraction.*must be < 1/));
  test('--seed beyond 32 bits would repeat a smaller seed', () =>
    bad(['--seed', String(2 ** 32)], /--seed: 4294967296 \(must be <= 4294967295\)/));
  test('--threads 100000 is refused', () => bad(['--threads', '100000'], /--threads: 100000 \(must be <= 1024\)/));
  test('integers beyond 2^53 are refused rather than rounded', () =>
    bad(['--epochs', '9007199254740993'], /--epochs: .*must be at most 9007199254740991/));
  test('values at the edges still parse', () => {
    expect(parseTrainArgs(['--lr', '3.4e38', '--seed', String(2 ** 32 - 1), '--threads', '1024', '--momentum', '0.9999'])).toMatchObject({
      lr: 3.4e38,
      seed: 2 ** 32 - 1,
      threads: 1024,
      momentum: 0.9999,
    });
  });
});

describe('output paths are checked before training, and never hang', () => {
  test("--out /proc/x fails at once (Node's recursive mkdir used to spin there forever)", () => {
    expectUsageError(
      cli(['train', '--dataset', 'xor', '--epochs', '1', '--out', '/proc/neurone-x/y']),
      /--out: cannot write to \/proc\/neurone-x\/y: cannot create folder \/proc\/neurone-x \(ENOENT\)/,
    );
  });

  test('--out below a regular file names the file', () => {
    const file = path.join(tmp, 'plain-file');
    fs.writeFileSync(file, 'x');
    expectUsageError(
      cli(['train', '--dataset', 'xor', '--epochs', '1', '--out', path.join(file, 'out')]),
      /plain-file exists and is not a folder/,
    );
  });

  test('--save naming a folder fails before any training', () => {
    const out = path.join(tmp, 'save-dir-out');
    const r = cli(['train', '--dataset', 'xor', '--epochs', '1', '--out', out, '--save', tmp]);
    expectUsageError(r, /--save: .* is a folder/);
    expect(r.stdout).toBe(''); // nothing trained nor printed
    expect(fs.existsSync(path.join(out, 'metrics.json'))).toBe(false);
  });

  test('--save naming the --model file, or a file in --data-dir, fails before any training and leaves it', () => {
    const model = path.join(tmp, 'in-model.json');
    const description = JSON.stringify({ layers: [{ type: 'Linear', args: [2, 2] }] });
    fs.writeFileSync(model, description);
    const out = path.join(tmp, 'save-model-out');
    const r = cli(['train', '--dataset', 'xor', '--epochs', '1', '--out', out, '--model', model, '--save', model]);
    expectUsageError(r, /--save: .*in-model\.json is the --model file .*in-model\.json; saving would overwrite the input/);
    expect(fs.readFileSync(model, 'utf8')).toBe(description);
    // Through a link, too.
    const link = path.join(tmp, 'link-to-model.json');
    fs.symlinkSync(model, link);
    expectUsageError(
      cli(['train', '--dataset', 'xor', '--epochs', '1', '--out', out, '--model', model, '--save', link]),
      /is the --model file/,
    );
    // By another name of the same file: a hard link here, another case of the name on macOS and Windows.
    const other = path.join(tmp, 'IN-MODEL.json');
    fs.linkSync(model, other);
    expectUsageError(
      cli(['train', '--dataset', 'xor', '--epochs', '1', '--out', out, '--model', model, '--save', other]),
      /--save: .*IN-MODEL\.json is the --model file .*in-model\.json/,
    );
    expect(fs.readFileSync(model, 'utf8')).toBe(description);
    const dataDir = path.join(tmp, 'data-dir');
    fs.mkdirSync(dataDir, { recursive: true });
    expectUsageError(
      cli([
        'train',
        '--dataset',
        'xor',
        '--epochs',
        '1',
        '--out',
        out,
        '--data-dir',
        dataDir,
        '--save',
        path.join(dataDir, 'm.safetensors'),
      ]),
      /--save: .* is inside --data-dir .*data-dir, the data the run reads/,
    );
  });

  // A pipe of the test's own, not /dev/null: saving writes a temporary file and renames it over the
  // target, so a regression here would replace the target (it once replaced the machine's /dev/null).
  (hasCommand('mkfifo') ? test : test.skip)(
    'a FIFO or a link to /dev/zero in place of the --out lock or the resume run file: exit 2 at once',
    () => {
      // Before, the lock and run files were read with readFileSync: a FIFO blocked the command in
      // open() (SIGTERM could not end it), a link to /dev/zero read until memory ran out (SIGABRT).
      const run = (args: string[]): ReturnType<typeof cli> => {
        const r = spawnSync(process.execPath, [...cliArgs, 'train', '--dataset', 'xor', '--epochs', '1', '--quiet', ...args], {
          cwd: root,
          encoding: 'utf8',
          timeout: HANG_GUARD_MS,
          killSignal: 'SIGKILL',
        });
        return { code: r.status, stdout: r.stdout, stderr: r.stderr };
      };
      for (const kind of ['fifo', 'zero']) {
        const out = path.join(tmp, `lock-${kind}`);
        fs.mkdirSync(path.join(out, 'resume'), { recursive: true });
        const place = (file: string): void => {
          if (kind === 'fifo') expect(spawnSync('mkfifo', [file]).status).toBe(0);
          else fs.symlinkSync('/dev/zero', file);
        };
        place(path.join(out, '.train.lock'));
        expectUsageError(
          run(['--out', out]),
          /is in use by another train run \(unknown process on unknown machine\); .*remove .*\.train\.lock$/,
        );
        fs.rmSync(path.join(out, '.train.lock'));
        const runFile = path.join(out, 'resume', 'run.json');
        place(runFile);
        expectUsageError(
          run(['--out', out, '--resume']),
          new RegExp(
            `--resume: .*run\\.json cannot be read \\(expected a run file \\(a regular file\\), found a (FIFO|character device)\\); start over with --force`,
          ),
        );
      }
    },
  );

  test("a run file gone between the check and the read is said once: 'cannot be read (no such file)'", () => {
    // Before: "…/run.json cannot be read (…/run.json: cannot read (no such file))".
    const out = path.join(tmp, 'run-file-gone');
    const folder = new ResumeFolder(out);
    const file = path.join(folder.dir, 'run.json');
    expect(() => folder.run()).toThrow(new Error(`${file} cannot be read (no such file)`));
  });

  (hasCommand('mkfifo') ? test : test.skip)('--save onto a pipe or device (saving would replace it) is refused', () => {
    const fifo = path.join(tmp, 'save-fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    expectUsageError(
      cli(['train', '--dataset', 'xor', '--epochs', '1', '--out', tmp, '--save', fifo]),
      /--save: .*save-fifo exists and is not a regular file/,
    );
    expect(fs.statSync(fifo).isFIFO()).toBe(true);
  });

  test('--save in a folder that takes no files is refused before training', () => {
    expectUsageError(
      cli(['train', '--dataset', 'xor', '--epochs', '1', '--out', tmp, '--save', '/proc/neurone-model']),
      /--save: cannot create files in \/proc \(ENOENT\)/,
    );
  });

  test("--save onto an existing file needs --force, as --out does; another framework's extension is refused", () => {
    const model = path.join(tmp, 'kept.safetensors');
    fs.writeFileSync(model, 'an earlier model');
    const out = path.join(tmp, 'save-exists-out');
    expectUsageError(
      cli(['train', '--dataset', 'xor', '--epochs', '1', '--out', out, '--save', model]),
      /--save: .*kept\.safetensors already exists; pass --force to replace it, or another file name/,
    );
    expect(fs.readFileSync(model, 'utf8')).toBe('an earlier model');
    expectUsageError(
      cli(['train', '--dataset', 'xor', '--epochs', '1', '--out', out, '--save', path.join(tmp, 'm.onnx')]),
      /--save: .*m\.onnx names an ONNX file, but --save writes neurone's safetensors .*neurone export MODEL --onnx FILE/,
    );
    expect(fs.existsSync(path.join(tmp, 'm.onnx'))).toBe(false);
    const r = cli(['train', '--dataset', 'xor', '--epochs', '1', '--quiet', '--out', out, '--save', model, '--force']);
    expect(r.code).toBe(0);
    expect(fs.readFileSync(model).subarray(8, 9).toString()).toBe('{'); // safetensors: a length, then the JSON header
  });

  test('a run refused or diverged leaves no --out folder it made; one it did not make stays', () => {
    const fresh = path.join(tmp, 'fresh', 'deeper');
    expectUsageError(cli(['train', '--model', 'mpl', '--out', fresh]), /unknown model preset 'mpl'/);
    expect(fs.existsSync(path.join(tmp, 'fresh'))).toBe(false);
    const r = cli(['train', '--dataset', 'xor', '--epochs', '2', '--lr', '1e30', '--out', fresh]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toMatch(
      /^neurone: training diverged: the (loss is (NaN|Infinity)|update) .* Lower --lr \(1e\+30: the command sums each batch's gradient, as the course did, so --lr 1e\+30 at --batch-size 32 steps as far as PyTorch's lr 3\.2e\+31 on the batch mean\), e\.g\. --lr 3\.13e\+28 \(PyTorch's lr 1e\+30 on the batch mean\)$/,
    );
    expect(r.stderr).not.toMatch(/allowNonFinite|reduction/);
    expect(fs.existsSync(path.join(tmp, 'fresh'))).toBe(false);
    const existing = path.join(tmp, 'existing-out');
    fs.mkdirSync(existing);
    expectUsageError(cli(['train', '--model', 'mpl', '--out', existing]), /unknown model preset/);
    expect(fs.existsSync(existing)).toBe(true);
  });

  test('--save onto one of the files written in --out is refused', () => {
    const out = path.join(tmp, 'clash');
    expectUsageError(
      cli(['train', '--dataset', 'xor', '--epochs', '1', '--out', out, '--save', path.join(out, 'metrics.json')]),
      /one of the files the run writes/,
    );
  });
});

describe('input files are checked before they are read', () => {
  test('--model /dev/zero is refused as a device, not read until memory runs out', () => {
    // Under `ulimit -v`, so that a regression (reading the device) ends in a quick failure of the
    // child rather than in the machine's memory. --no-expose-wasm: the TypeScript loader the tests
    // use (tsx) instantiates a WebAssembly parser when WebAssembly exists, and a wasm memory reserves
    // more address space than that limit; without it the loader takes its JavaScript parser.
    const r = spawnSync(
      'sh',
      [
        '-c',
        'ulimit -v 3000000; exec "$0" "$@"',
        process.execPath,
        '--no-expose-wasm',
        ...cliArgs,
        'train',
        '--model',
        '/dev/zero',
        '--out',
        tmp,
      ],
      {
        cwd: root,
        encoding: 'utf8',
        timeout: HANG_GUARD_MS,
        env: { ...process.env, NEURONE_BACKEND: '' },
      },
    );
    expectUsageError(
      { code: r.status, stdout: r.stdout, stderr: r.stderr },
      /cannot read model file \/dev\/zero: expected a JSON model file \(a regular file\), found a character device/,
    );
  });
});

describe('after training, the model comes first', () => {
  test('a full disk while writing a figure keeps the saved model, reports the figure, exits 1', () => {
    const out = path.join(tmp, 'full');
    fs.mkdirSync(out);
    // The disk fills up while training.svg is written: a preload makes every write to a file of
    // that name (its temporary file included) fail with ENOSPC, as a full disk does.
    const preload = path.join(tmp, 'full-disk.js');
    fs.writeFileSync(
      preload,
      [
        "const fs = require('fs');",
        'const full = new Set();',
        'const open = fs.openSync, write = fs.writeSync, close = fs.closeSync;',
        'fs.closeSync = function (fd) { full.delete(fd); return close.call(this, fd); };',
        "fs.openSync = function (p, ...rest) { const fd = open.call(this, p, ...rest); if (String(p).includes('training.svg')) full.add(fd); return fd; };",
        "fs.writeSync = function (fd, ...rest) { if (full.has(fd)) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }); return write.call(this, fd, ...rest); };",
      ].join('\n'),
    );
    const model = path.join(tmp, 'full-model.safetensors');
    const r = cli(['train', '--dataset', 'xor', '--epochs', '2', '--quiet', '--out', out, '--force', '--save', model], {
      NODE_OPTIONS: `--require ${preload}`,
    });
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stderr.trim()).toMatch(
      /^neurone: cannot write .*training\.svg: writing failed after 0 of \d+ bytes \(ENOSPC: no space left on device\); the previous file, if any, is unchanged \(the model is saved in .*full-model\.safetensors\)$/,
    );
    expect(r.code).toBe(1);
    expect(fs.statSync(model).size).toBeGreaterThan(100);
    // The other outputs are still written and listed; the failed one is not listed.
    expect(JSON.parse(fs.readFileSync(path.join(out, 'metrics.json'), 'utf8')).epochs).toBe(2);
    expect(r.stdout).toContain(path.join(out, 'confusion.svg'));
    expect(r.stdout).not.toContain(path.join(out, 'training.svg'));
    expect(r.stdout).toContain(model);
    // Neither half a figure nor its temporary file is left.
    expect(fs.readdirSync(out).filter((f) => f.includes('training.svg'))).toEqual([]);
  });
});

describe('the process around the command', () => {
  test('NEURONE_BACKEND=bogus: one line, one "neurone:" prefix, exit 2 before any work', () => {
    const r = cli(['train', '--dataset', 'xor', '--epochs', '1', '--out', tmp], { NEURONE_BACKEND: 'bogus' });
    expectUsageError(r, /NEURONE_BACKEND.*bogus/);
    expect(r.stdout).toBe('');
  });

  test('--threads 4 on the js backend is refused, by flag or NEURONE_BACKEND; --threads 1 is fine', () => {
    const out = path.join(tmp, 'js-threads');
    const refused = /--threads 4: the js backend runs on one thread; drop --threads or use --backend native/;
    const byFlag = cli(['train', '--dataset', 'xor', '--epochs', '1', '--backend', 'js', '--threads', '4', '--out', out]);
    expectUsageError(byFlag, refused);
    expect(byFlag.stdout).toBe('');
    expectUsageError(
      cli(['train', '--dataset', 'xor', '--epochs', '1', '--threads', '4', '--out', out], { NEURONE_BACKEND: 'js' }),
      refused,
    );
    expect(fs.existsSync(out)).toBe(false);
    const one = cli(['train', '--dataset', 'xor', '--epochs', '1', '--backend', 'js', '--threads', '1', '--out', out]);
    expect(one.code).toBe(0);
    expect(one.stdout).toMatch(/js backend \(1 thread\)/);
  });

  (fs.existsSync('/dev/full') ? test : test.skip)(
    'a standard output that cannot be written (> /dev/full): one line, exit 1, no --out folder left',
    () => {
      const out = path.join(tmp, 'stdout-full', 'run');
      const full = fs.openSync('/dev/full', 'w');
      try {
        const r = spawnSync(process.execPath, [...cliArgs, 'train', '--dataset', 'xor', '--epochs', '2', '--out', out], {
          cwd: root,
          encoding: 'utf8',
          timeout: HANG_GUARD_MS,
          env: { ...process.env, NEURONE_BACKEND: '' },
          stdio: ['ignore', full, 'pipe'],
        });
        expect(r.stderr).toBe('neurone: cannot write to standard output (ENOSPC)\n');
        expect(r.status).toBe(1);
      } finally {
        fs.closeSync(full);
      }
      // Both folders the command made are gone: it wrote nothing in them.
      expect(fs.existsSync(path.dirname(out))).toBe(false);
    },
  );

  test('a reader that closes the pipe (neurone train | head -1): quiet exit 141, no EPIPE trace', async () => {
    // 1,000 epoch lines are over 64 KiB, more than a pipe buffers: the command is still writing
    // when the reader goes away, whatever the speed of the machine.
    const { first, stderr, code } = await headOne(
      [
        ...cliArgs,
        'train',
        '--dataset',
        'xor',
        '--epochs',
        '1000',
        '--patience',
        '1000',
        '--schedule',
        'none',
        '--out',
        path.join(tmp, 'epipe'),
      ],
      { cwd: root, env: { ...process.env, NEURONE_BACKEND: '' }, guardMs: HANG_GUARD_MS },
    );
    expect(first).toMatch(/^neurone: small-mlp on xor/);
    expect(stderr).toBe('');
    expect(code).toBe(141);
  });

  // The progress bar draws only on a terminal; a ^C typed there reaches the command as SIGINT.
  (hasScript ? test : test.skip)('Ctrl-C during the progress bar shows the cursor again and exits 130', async () => {
    const args = [...cliArgs, 'train', '--dataset', 'checkerboard', '--epochs', '50', '--out', path.join(tmp, 'sigint')];
    const { out, code, sent } = await inTerminal(args, { interrupt: true, guardMs: HANG_GUARD_MS });
    expect(sent).toBe(true);
    expect(out).not.toMatch(/done: /); // interrupted, not finished
    // The cursor shown again after it was last hidden, line wrapping back on.
    expect(out.lastIndexOf('\x1b[?25h')).toBeGreaterThan(out.lastIndexOf('\x1b[?25l'));
    expect(out.lastIndexOf('\x1b[?7h')).toBeGreaterThan(out.lastIndexOf('\x1b[?7l'));
    expect(code).toBe(130); // script -e passes the command's status on
    // Stopped in its first epoch, the folder it made is gone with its lock (the bar's handler and
    // train's both ran). An epoch of this net is a few milliseconds: on a loaded machine the ^C
    // can land after the first one ended, and then the run keeps its state for --resume, and says so.
    const kept = /the same command with --resume continues after the last finished epoch/.test(out);
    expect(fs.existsSync(path.join(tmp, 'sigint'))).toBe(kept);
    if (kept) {
      expect(fs.existsSync(path.join(tmp, 'sigint', 'resume'))).toBe(true);
      expect(fs.existsSync(path.join(tmp, 'sigint', '.train.lock'))).toBe(false);
    }
  });

  (hasScript ? test : test.skip)(
    'Ctrl-C after an epoch: the line saying how to go on comes on a line of its own, below the bar',
    async () => {
      const out = path.join(tmp, 'sigint-after');
      // The ^C is typed once the bar has drawn part of epoch 2 (USPS one example a step: an epoch of
      // 6,197 steps), so it lands while the bar draws, with line wrapping off.
      const args = [
        ...cliArgs,
        'train',
        '--dataset',
        'usps',
        '--recipe',
        'quick',
        '--batch-size',
        '1',
        '--epochs',
        '500',
        '--patience',
        '500',
        '--out',
        out,
      ];
      const run = await inTerminal(args, { interrupt: /epoch 2\/500 +\[=+-+\] +[1-9]/, guardMs: HANG_GUARD_MS });
      expect(run.sent).toBe(true);
      expect(run.code).toBe(130);
      const note = run.out.indexOf('neurone: stopped; the same command with --resume continues after the last finished epoch');
      expect(note).toBeGreaterThan(0);
      // The bar was stopped first: line wrapping back on, the cursor at the start of a cleared line.
      const before = run.out.slice(0, note);
      expect(before.lastIndexOf('\x1b[?7h')).toBeGreaterThan(before.lastIndexOf('\x1b[?7l'));
      expect(['\r', '\n', '\x1b[2K'].some((end) => before.endsWith(end))).toBe(true);
      expect(fs.readdirSync(path.join(out, 'resume'))).toContain('stage1.checkpoint.safetensors');
    },
  );

  test('SIGTERM during training (timeout, docker stop): dies of it, its lock gone, its state kept for --resume', async () => {
    // Before, the signal's default action ran no cleanup: the .train.lock stayed in --out, which
    // a run from another machine or container then found held for ever. The epochs trained stay
    // in --out/resume, which a line on stderr says.
    const out = path.join(tmp, 'sigterm', 'run');
    const child = spawn(
      process.execPath,
      [...cliArgs, 'train', '--dataset', 'xor', '--epochs', '100000', '--patience', '100000', '--schedule', 'none', '--out', out],
      { cwd: root, env: { ...process.env, NEURONE_BACKEND: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
      if (/^epoch +2\//m.test(stdout) && fs.existsSync(path.join(out, '.train.lock'))) child.kill('SIGTERM');
    });
    child.stderr.on('data', (d) => (stderr += d));
    const guard = setTimeout(() => child.kill('SIGKILL'), HANG_GUARD_MS);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on('exit', (c, s) => resolve([c, s])),
    );
    clearTimeout(guard);
    expect([code, signal]).toEqual([null, 'SIGTERM']);
    expect(fs.readdirSync(out)).toEqual(['resume']);
    expect(fs.readdirSync(path.join(out, 'resume')).sort()).toEqual(['run.json', 'stage1.checkpoint.safetensors']);
    expect(stderr).toBe(
      `neurone: stopped; the same command with --resume continues after the last finished epoch (${path.join(out, 'resume')})\n`,
    );
  });

  test('SIGTERM before the first epoch ends: nothing to continue, the --out folders it made gone', () => {
    // The signal is sent as the run's state is started (run.json renamed into place); it reaches
    // JavaScript at fit's first yield, before the first epoch's checkpoint.
    const out = path.join(tmp, 'sigterm-early', 'run');
    const preload = path.join(tmp, 'term-at-start.js');
    fs.writeFileSync(
      preload,
      "const fs = require('fs'); const rename = fs.renameSync; fs.renameSync = function (from, to) { rename(from, to); " +
        "if (String(to).endsWith('run.json')) process.kill(process.pid, 'SIGTERM'); };",
    );
    const r = spawnSync(process.execPath, ['-r', preload, ...cliArgs, 'train', '--dataset', 'xor', '--epochs', '3', '--out', out], {
      cwd: root,
      encoding: 'utf8',
      timeout: HANG_GUARD_MS,
      env: { ...process.env, NEURONE_BACKEND: '' },
    });
    expect(r.signal).toBe('SIGTERM');
    expect(r.stdout).not.toMatch(/^epoch/m);
    expect(r.stderr).toBe('');
    expect(fs.existsSync(path.join(tmp, 'sigterm-early'))).toBe(false);
  });
});
