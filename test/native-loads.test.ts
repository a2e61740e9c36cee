// In CI (and wherever NEURONE_REQUIRE_NATIVE=1), the native backend must load
// and be the one picked by default: a silent fallback to js would leave the
// native kernels untested.
import { getBackend, nativeAvailable } from '../lib/backend';
import { loadNative } from '../lib/backend/native';

const required = (process.env.CI === 'true' || process.env.NEURONE_REQUIRE_NATIVE === '1') && process.env.NEURONE_BACKEND !== 'js';

test('the native addon loads where it is required, and is the default backend', () => {
  if (!required) {
    // Not required here: report the state instead of asserting it.
    console.log(`native addon available: ${nativeAvailable()} (${loadNative().error?.message ?? 'loaded'})`);
    expect(['js', 'native']).toContain(getBackend());
    return;
  }
  expect(loadNative().error).toBeUndefined();
  expect(getBackend()).toBe('native');
  // A per-path run (scripts/test-paths.js) must really run on the path it names.
  const forced = process.env.NEURONE_KERNEL;
  if (forced) expect(loadNative().addon?.kernelPath()).toBe(forced);
});
