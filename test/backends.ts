// The backends every suite runs against: js always, native when the addon loads.
// NEURONE_BACKEND=js restricts the suites to js (the "js backend passes" run);
// NEURONE_TEST_NATIVE_ONLY=1 to native (the per-path runs of scripts/test-paths.js,
// after the default run has covered js).
import { nativeAvailable } from '../lib/backend';
import { loadNative, NativeAddon } from '../lib/backend/native';

export type Name = 'js' | 'native';

export function availableBackends(): Name[] {
  if (process.env.NEURONE_BACKEND === 'js') return ['js'];
  if (process.env.NEURONE_TEST_NATIVE_ONLY === '1') return ['native'];
  return nativeAvailable() ? ['js', 'native'] : ['js'];
}

/** The native addon, or undefined when it does not load. */
export function addon(): NativeAddon | undefined {
  return loadNative().addon;
}
