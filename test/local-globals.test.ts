/**
 * test/local-globals-transform.js binds built-ins to constants of each module jest loads: they
 * must be the very objects of jest's context, so that a spy on one, and `instanceof` on arrays
 * that lib/ makes, behave as without it.
 */
import { zeros } from '../lib';

const names = ['Math', 'Number', 'Infinity', 'NaN', 'isFinite', 'isNaN', 'Array', 'Object', 'Float32Array'] as const;

test('each bound built-in is the global of the same name', () => {
  const bound: Record<(typeof names)[number], unknown> = {
    Math,
    Number,
    Infinity,
    NaN,
    isFinite,
    isNaN,
    Array,
    Object,
    Float32Array,
  };
  const global = globalThis as unknown as Record<string, unknown>;
  for (const name of names) expect([name, bound[name]]).toEqual([name, global[name]]);
  expect(Math).toBe(global.Math);
});

test('a spy on a method of a bound built-in is seen through it, and restored', () => {
  const spy = jest.spyOn(Math, 'random').mockReturnValue(0.25);
  expect((globalThis as unknown as { Math: Math }).Math.random()).toBe(0.25);
  expect(Math.random()).toBe(0.25);
  spy.mockRestore();
  expect(Math.random()).not.toBe(0.25);
});

test("lib/'s arrays are instances of the bound constructors", () => {
  const t = zeros([2, 3]);
  expect(t.data).toBeInstanceOf(Float32Array);
  expect(t.data).toBeInstanceOf((globalThis as unknown as { Float32Array: Float32ArrayConstructor }).Float32Array);
});
