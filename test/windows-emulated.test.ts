/**
 * What neurone does where Windows differs, with process.platform set to 'win32' around the call
 * (no Windows machine runs this suite): a rename that another program's open handle refuses for a
 * moment is retried; a FAT drive's answer to a hard link takes the no-links path; a signal given
 * back after the cleanups ends the process with 128 + its number, as a shell reports it.
 */
import * as os from 'os';
import * as path from 'path';
import { renameRetrying, writeFileAtomic } from '../lib/data/read';
import { deliverSignal } from '../lib/signals';

// The module object itself (an import's namespace has fixed bindings): the library reads its
// functions through it, so a spy here is what the library calls.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const fs = require('fs') as typeof import('fs');

const realPlatform = process.platform;
function asWindows<T>(body: () => T): T {
  Object.defineProperty(process, 'platform', { value: 'win32' });
  try {
    return body();
  } finally {
    Object.defineProperty(process, 'platform', { value: realPlatform });
  }
}
const failWith = (code: string) => Object.assign(new Error(`${code}: emulated`), { code });

let tmp: string;
beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'neurone-win32-'));
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
afterEach(() => jest.restoreAllMocks());

test('a rename refused while another program holds the file (EBUSY, EPERM, EACCES) is retried on Windows, not elsewhere', () => {
  const from = path.join(tmp, 'from');
  const to = path.join(tmp, 'to');
  const real = fs.renameSync;
  for (const code of ['EBUSY', 'EPERM', 'EACCES']) {
    fs.writeFileSync(from, code);
    let refusals = 2;
    const rename = jest.spyOn(fs, 'renameSync').mockImplementation((a, b) => {
      if (refusals-- > 0) throw failWith(code);
      real(a, b);
    });
    asWindows(() => renameRetrying(from, to));
    expect(rename).toHaveBeenCalledTimes(3);
    expect(fs.readFileSync(to, 'utf8')).toBe(code);
    rename.mockRestore();
  }
  // Elsewhere, and for other codes, the first error stands.
  fs.writeFileSync(from, 'x');
  const busy = jest.spyOn(fs, 'renameSync').mockImplementation(() => {
    throw failWith('EBUSY');
  });
  expect(() => renameRetrying(from, to)).toThrow('EBUSY');
  expect(busy).toHaveBeenCalledTimes(1);
  busy.mockRestore();
  const missing = jest.spyOn(fs, 'renameSync').mockImplementation(() => {
    throw failWith('ENOENT');
  });
  expect(() => asWindows(() => renameRetrying(from, to))).toThrow('ENOENT');
  expect(missing).toHaveBeenCalledTimes(1);
  missing.mockRestore();
  // A file held for good: the error after about a second of tries.
  const held = jest.spyOn(fs, 'renameSync').mockImplementation(() => {
    throw failWith('EBUSY');
  });
  const t0 = Date.now();
  expect(() => asWindows(() => renameRetrying(from, to))).toThrow('EBUSY');
  expect(held).toHaveBeenCalledTimes(8);
  expect(Date.now() - t0).toBeGreaterThanOrEqual(1000);
});

test("a save that must not replace a file, on a drive without hard links (Windows reads FAT's refusal as EISDIR), is written by the fallback", () => {
  const linkRefused = jest.spyOn(fs, 'linkSync').mockImplementation(() => {
    throw failWith('EISDIR');
  });
  const file = path.join(tmp, 'model.bin');
  asWindows(() => writeFileAtomic(file, Buffer.from('weights'), { replace: false }));
  expect(linkRefused).toHaveBeenCalled();
  expect(fs.readFileSync(file, 'utf8')).toBe('weights');
  // The fallback still refuses a file that is there.
  expect(() => asWindows(() => writeFileAtomic(file, Buffer.from('other'), { replace: false }))).toThrow(/EEXIST|already/);
  expect(fs.readFileSync(file, 'utf8')).toBe('weights');
  // Elsewhere EISDIR from link() is an error, not a file system without links.
  expect(() => writeFileAtomic(path.join(tmp, 'other.bin'), Buffer.from('x'), { replace: false })).toThrow(/EISDIR/);
});

// The test runner's own SIGINT / SIGTERM listeners are set aside while the signals are given
// back: with them, the emulated Windows delivery would reach the runner, which ends the run.
let runnerListeners: [NodeJS.Signals, NodeJS.SignalsListener[]][] = [];
beforeEach(() => {
  runnerListeners = (['SIGINT', 'SIGTERM'] as const).map((s) => [s, process.listeners(s)]);
  for (const [s] of runnerListeners) process.removeAllListeners(s);
});
afterEach(() => {
  for (const [s, listeners] of runnerListeners) for (const l of listeners) process.on(s, l);
});

test('a signal given back after the cleanups: exit 130 or 143 on Windows, or its listeners called; raised again elsewhere', () => {
  const exit = jest.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
  asWindows(() => deliverSignal('SIGINT'));
  asWindows(() => deliverSignal('SIGTERM'));
  expect(exit.mock.calls).toEqual([[130], [143]]);
  const kill = jest.spyOn(process, 'kill').mockImplementation(() => true);
  deliverSignal('SIGTERM');
  expect(kill).toHaveBeenCalledWith(process.pid, 'SIGTERM');
  expect(exit).toHaveBeenCalledTimes(2);
});

test('on Windows a listener still there gets the signal in the next turn, and the process is not ended', async () => {
  const exit = jest.spyOn(process, 'exit').mockImplementation((() => undefined) as never);
  const kill = jest.spyOn(process, 'kill').mockImplementation(() => true);
  const heard: string[] = [];
  const listener = (s: NodeJS.Signals): void => void heard.push(s);
  process.on('SIGINT', listener);
  try {
    asWindows(() => deliverSignal('SIGINT'));
    expect(heard).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(heard).toEqual(['SIGINT']);
  } finally {
    process.removeListener('SIGINT', listener);
  }
  expect(exit).not.toHaveBeenCalled();
  expect(kill).not.toHaveBeenCalled();
});
