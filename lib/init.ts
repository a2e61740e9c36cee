/**
 * Weight initialisations, by name, as in the original report.
 *
 * `fanIn` / `fanOut` are the layer's input and output sizes: (in, out) for Linear,
 * (chanIn, chanOut) for Conv1D. PyTorch uses fan = chan · kSize for convolutions, so its
 * Xavier/He scales for a Conv1D are smaller by about √kSize; we keep the original's choice
 * (see docs/COURSE.md).
 */
import { Tensor } from './tensor';
import { Rng, globalRng } from './random';

/** The initialisation names accepted by the `init` option of Linear and the convolutions (Conv1D, Conv2D, ConvTranspose1D, ConvTranspose2D). */
export type InitName = 'normal' | 'uniform' | 'ones' | 'zeros' | 'xavierNormal' | 'xavierUniform' | 'heNormal' | 'heUniform';

/** Every {@link InitName}, for validation and tests. */
export const INIT_NAMES: readonly InitName[] = [
  'normal',
  'uniform',
  'ones',
  'zeros',
  'xavierNormal',
  'xavierUniform',
  'heNormal',
  'heUniform',
];

/** Checks an init name, with an error listing the accepted ones. */
export function checkInit(who: string, init: unknown): InitName {
  if (typeof init !== 'string' || !(INIT_NAMES as readonly string[]).includes(init)) {
    throw new RangeError(`${who}: unknown init ${JSON.stringify(init)} (expected one of ${INIT_NAMES.join(', ')})`);
  }
  return init as InitName;
}

/**
 * Fills `t` in place according to `init`:
 *
 * | name | distribution |
 * |---|---|
 * | `normal` | N(0, 1) |
 * | `uniform` | U(0, 1) |
 * | `ones`, `zeros` | constant |
 * | `xavierNormal` | N(0, σ = √(2 / (fanIn + fanOut))) |
 * | `xavierUniform` | U(−a, a), a = √(6 / (fanIn + fanOut)) |
 * | `heNormal` | N(0, σ = √(2 / fanIn)) |
 * | `heUniform` | U(−a, a), a = √(6 / fanIn) |
 *
 * @example
 * const w = zeros([784, 10]);
 * initialize(w, 'heNormal', 784, 10); // std ≈ 0.0505
 * @param t The tensor filled in place (and returned).
 * @param init The scheme: 'heNormal', 'xavierUniform', …
 * @param fanIn Inputs per unit, for the scaled schemes.
 * @param fanOut Outputs per unit, for the scaled schemes.
 * @param rng The generator (default the global seeded one).
 */
export function initialize(t: Tensor, init: InitName, fanIn: number, fanOut: number, rng: Rng = globalRng()): Tensor {
  const d = t.data;
  const normal = (std: number): void => {
    for (let i = 0; i < d.length; i++) d[i] = std * rng.normal();
  };
  const uniform = (low: number, high: number): void => {
    for (let i = 0; i < d.length; i++) d[i] = low + (high - low) * rng.uniform();
  };
  switch (checkInit('initialize', init)) {
    case 'normal':
      normal(1);
      break;
    case 'uniform':
      uniform(0, 1);
      break;
    case 'ones':
      d.fill(1);
      break;
    case 'zeros':
      d.fill(0);
      break;
    case 'xavierNormal':
      normal(Math.sqrt(2 / (fanIn + fanOut)));
      break;
    case 'xavierUniform': {
      const a = Math.sqrt(6 / (fanIn + fanOut));
      uniform(-a, a);
      break;
    }
    case 'heNormal':
      normal(Math.sqrt(2 / fanIn));
      break;
    case 'heUniform': {
      const a = Math.sqrt(6 / fanIn);
      uniform(-a, a);
      break;
    }
  }
  return t;
}
