import * as fs from 'fs';
import * as https from 'https';
import * as path from 'path';
import { PassThrough } from 'stream';
import { commitVerified, download, downloadFile, sha256File, verifyFile } from '../../lib/data/download';
import { writeFileAtomic } from '../../lib/data/read';
import { tempDir } from './helpers';

// No test here touches the network: the download path is exercised against a refused loopback port.
const ABC_SHA256 = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';

describe('download helpers (local files only)', () => {
  let dir: string;
  beforeEach(() => {
    dir = tempDir('neurone-dl-');
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  const leftovers = (): string[] => fs.readdirSync(dir).filter((f) => f.endsWith('.tmp'));

  test('sha256File and verifyFile', () => {
    const f = path.join(dir, 'abc');
    fs.writeFileSync(f, 'abc');
    expect(sha256File(f)).toBe(ABC_SHA256);
    expect(verifyFile(f, { sha256: ABC_SHA256, bytes: 3 })).toBe(true);
    expect(verifyFile(f, { sha256: ABC_SHA256, bytes: 4 })).toBe(false);
    expect(verifyFile(f, { sha256: '0'.repeat(64) })).toBe(false);
    expect(verifyFile(path.join(dir, 'missing'), { sha256: ABC_SHA256 })).toBe(false);
  });

  test('writeFileAtomic writes the file, creating folders when asked, leaving no temporary file', () => {
    const dest = path.join(dir, 'sub', 'out.bin');
    expect(() => writeFileAtomic(dest, Buffer.from('abc'))).toThrow(/^cannot write .*out\.bin: cannot create a file in .*sub \(ENOENT/);
    writeFileAtomic(dest, Buffer.from('abc'), { sha256: ABC_SHA256, mkdir: true });
    expect(fs.readFileSync(dest, 'utf8')).toBe('abc');
    expect(fs.readdirSync(path.join(dir, 'sub'))).toEqual(['out.bin']);
  });

  test('writeFileAtomic with a wrong checksum writes nothing and keeps the old file', () => {
    const dest = path.join(dir, 'out.bin');
    fs.writeFileSync(dest, 'old');
    expect(() => writeFileAtomic(dest, Buffer.from('abd'), { sha256: ABC_SHA256 })).toThrow(
      `cannot write ${dest}: checksum mismatch: expected sha256 ${ABC_SHA256}, got `,
    );
    expect(fs.readFileSync(dest, 'utf8')).toBe('old');
    expect(leftovers()).toEqual([]);
  });

  test('commitVerified renames a good temporary file, deletes a bad one', () => {
    const dest = path.join(dir, 'data.gz');
    const tmp = path.join(dir, 'x.tmp');
    fs.writeFileSync(dest, 'previous');
    fs.writeFileSync(tmp, 'abx');
    expect(() => commitVerified(tmp, dest, { sha256: ABC_SHA256, bytes: 3 }, 'https://example/data.gz')).toThrow(
      /^https:\/\/example\/data\.gz: cannot write .*data\.gz: checksum mismatch: expected 3 bytes with sha256 ba78.*, got 3 bytes with sha256 [0-9a-f]{64}; nothing written$/,
    );
    expect(fs.existsSync(tmp)).toBe(false);
    expect(fs.readFileSync(dest, 'utf8')).toBe('previous');
    fs.writeFileSync(tmp, 'abc');
    commitVerified(tmp, dest, { sha256: ABC_SHA256, bytes: 3 });
    expect(fs.readFileSync(dest, 'utf8')).toBe('abc');
    expect(fs.existsSync(tmp)).toBe(false);
  });

  test('download: a failing mirror gives an error naming the file, and leaves no partial file', async () => {
    const logs: string[] = [];
    await expect(download('mnist', { cacheDir: dir, mirrors: ['https://127.0.0.1:1/'], log: (l) => logs.push(l) })).rejects.toThrow(
      /download mnist: could not fetch train-images-idx3-ubyte\.gz:\n {2}.*127\.0\.0\.1/,
    );
    expect(logs[0]).toContain('https://127.0.0.1:1/train-images-idx3-ubyte.gz');
    expect(fs.readdirSync(path.join(dir, 'mnist'))).toEqual([]);
  });

  test('downloadFile writes what arrives once it is checked; a wrong or overlong body leaves the old file', async () => {
    // https.get answered here, no network: each call replies with the bytes of `bodies` in turn.
    const bodies: Buffer[][] = [];
    // The module object itself (the namespace import's properties cannot be redefined).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const nodeHttps: typeof https = require('https');
    const spy = jest.spyOn(nodeHttps, 'get').mockImplementation(((_url: string, _opts: unknown, onResponse: (res: unknown) => void) => {
      const req = new PassThrough();
      const res = Object.assign(new PassThrough(), { statusCode: 200, headers: {} });
      setImmediate(() => {
        onResponse(res);
        for (const chunk of bodies.shift() ?? []) res.write(chunk);
        res.end();
      });
      return req;
    }) as unknown as typeof https.get);
    try {
      const dest = path.join(dir, 'sub', 'file.gz');
      const seen: number[] = [];
      bodies.push([Buffer.from('ab'), Buffer.from('c')]);
      await downloadFile('https://example/file.gz', dest, { sha256: ABC_SHA256, bytes: 3 }, 1000, (n) => seen.push(n));
      expect(fs.readFileSync(dest, 'utf8')).toBe('abc');
      expect(seen).toEqual([2, 3]);
      bodies.push([Buffer.from('abd')]);
      await expect(downloadFile('https://example/file.gz', dest, { sha256: ABC_SHA256, bytes: 3 })).rejects.toThrow(
        /^https:\/\/example\/file\.gz: cannot write .*file\.gz: checksum mismatch: expected 3 bytes with sha256 ba78\w+, got 3 bytes with sha256 \w+; nothing written$/,
      );
      bodies.push([Buffer.from('ab'), Buffer.from('cd')]);
      await expect(downloadFile('https://example/file.gz', dest, { sha256: ABC_SHA256, bytes: 3 })).rejects.toThrow(
        /^https:\/\/example\/file\.gz: more than the expected 3 bytes$/,
      );
      bodies.push([Buffer.from('ab')]);
      await expect(downloadFile('https://example/file.gz', dest, { sha256: ABC_SHA256, bytes: 3 })).rejects.toThrow(
        /^https:\/\/example\/file\.gz: cannot write .*file\.gz: checksum mismatch: expected 3 bytes with sha256 ba78\w+, got 2 bytes with sha256 \w+; nothing written$/,
      );
      expect(fs.readFileSync(dest, 'utf8')).toBe('abc');
      expect(fs.readdirSync(path.join(dir, 'sub'))).toEqual(['file.gz']);
    } finally {
      spy.mockRestore();
    }
  });

  test('download: unknown dataset', async () => {
    await expect(download('cifar' as 'mnist', { cacheDir: dir })).rejects.toThrow(
      'download: unknown dataset "cifar"; known: mnist, fashion-mnist',
    );
  });
});
