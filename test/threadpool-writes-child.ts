/**
 * Child of threadpool-writes.test.ts: native ops called on plain (not shared) typed arrays that
 * Node's own thread pool writes during the call, as crypto.randomFill does (fs.read too). Run with
 * UV_THREADPOOL_SIZE=1: the pool first fills a dummy buffer, then the op's index array, by which
 * time the op has checked it and is in its kernel. Each call must succeed or throw a RangeError;
 * the process must not crash. Prints one JSON line of counts.
 */
import * as crypto from 'crypto';
import { loadNative } from '../lib/backend/native';

const addon = loadNative().addon;
if (!addon) throw new Error(`the native addon did not load: ${loadNative().error?.message}`);
const which = process.argv[2];
const tries = Number(process.argv[3] ?? 10);
let ok = 0;
let refused = 0;

/** `call` while the pool writes random words into `target` (after a dummy fill), `tries` times. */
async function race(reset: () => void, target: Int32Array, dummyBytes: number, call: () => void): Promise<void> {
  const dummy = new Uint8Array(dummyBytes);
  for (let t = 0; t < tries; t++) {
    reset();
    const filled = new Promise<void>((resolve) => {
      crypto.randomFill(dummy, () => undefined);
      crypto.randomFill(target, () => resolve());
    });
    try {
      call();
      ok++;
    } catch (e) {
      if (!(e instanceof RangeError)) throw e;
      refused++;
    }
    await filled;
  }
}

async function main(): Promise<void> {
  if (which === 'labels') {
    // Labels are checked, then followed as addresses into the logits and the gradient.
    const rows = 1 << 16;
    const cols = 256;
    const logits = new Float32Array(rows * cols);
    const loss = new Float32Array(rows);
    const grad = new Float32Array(rows * cols);
    const labels = new Int32Array(rows);
    await race(
      () => labels.fill(0),
      labels,
      1 << 20,
      () => addon!.crossEntropyLogits(logits, labels, loss, grad, rows, cols),
    );
  } else if (which === 'argmax') {
    // Max pooling's backward pass adds through each argmax entry it checked against its window.
    const [b, h, w, c, k] = [64, 64, 64, 1, 3];
    const [oh, ow] = [h - k + 1, w - k + 1];
    const x = Float32Array.from({ length: b * h * w * c }, () => Math.random());
    const y = new Float32Array(b * oh * ow * c);
    const good = new Int32Array(y.length);
    addon!.maxPool2dForward(x, y, good, b, h, w, c, k, k, 1, 1);
    const argmax = new Int32Array(good.length);
    const dy = new Float32Array(y.length).fill(1);
    const dx = new Float32Array(x.length);
    await race(
      () => argmax.set(good),
      argmax,
      1 << 18,
      () => addon!.maxPool2dBackward(dy, argmax, dx, b, h, w, c, k, k, 1, 1),
    );
  } else {
    throw new Error(`unknown case ${which}`);
  }
  console.log(JSON.stringify({ ok, refused }));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
