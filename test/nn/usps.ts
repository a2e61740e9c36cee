/** Reads the USPS digits text file of ../shared (test helper, not a test). */
import * as fs from 'fs';
import * as path from 'path';
import { Tensor, zeros } from '../../lib/tensor';

export const USPS_TEST = path.resolve(__dirname, '..', '..', '..', 'shared', 'data', 'usps', 'USPS_test.txt');

/**
 * First line "10 256", then one sample per line: the label and 256 grey levels in [0, 2].
 * Returns the first `count` samples as x (count, 256, 1) scaled to [0, 1] and labels (count,).
 */
export function loadUsps(count: number, offset = 0): { x: Tensor; y: Tensor } {
  if (!fs.existsSync(USPS_TEST)) throw new Error(`USPS data missing: ${USPS_TEST} (the shared/ folder must sit next to the repository)`);
  const lines = fs.readFileSync(USPS_TEST, 'utf8').trim().split('\n');
  const [classes, size] = lines[0].trim().split(/\s+/).map(Number);
  if (classes !== 10 || size !== 256) throw new Error(`unexpected USPS header: ${lines[0]}`);
  const rows = lines.slice(1 + offset, 1 + offset + count);
  if (rows.length !== count) throw new Error(`USPS: asked for ${count} samples from ${offset}, file has ${lines.length - 1}`);
  const x = zeros([count, 256, 1]);
  const y = zeros([count]);
  rows.forEach((line, i) => {
    const v = line.trim().split(/\s+/).map(Number);
    if (v.length !== 257) throw new Error(`USPS line ${offset + i + 2}: expected 257 numbers, got ${v.length}`);
    y.data[i] = v[0];
    for (let j = 0; j < 256; j++) x.data[i * 256 + j] = v[1 + j] / 2;
  });
  return { x, y };
}
