// Settings of one build side by side on the nets of bench-nets, interleaved: the two SIMD paths
// at one thread (`--compare paths`), one thread and two on the default path (`--compare
// threads`), or each SIMD path at one thread beside PyTorch at one thread on the same
// instructions (`--compare torch`: PyTorch as installed, and held to AVX2 for the AVX2 path, each
// the better of its two allocator settings, as bench-train reads issue 21's targets). Each round
// measures every setting of a net one after the other, their order reversed every round, so a
// shared host's slow phases fall on all of them; the per-round ratios are what it prints (median
// and range over the rounds), beside each setting's median samples/s. bench-train measures a
// net's settings minutes apart, which on a host whose neighbours come and go can read a net 40 %
// low on one setting (BENCHMARKS.md, the Zen 4 section).
//
//   npx ts-node --transpile-only scripts/bench-interleaved.ts --compare paths|threads|torch [--rounds 6] [--nets a,c32]
//
// paths needs a CPU with AVX-512 (the ratio is avx512 / avx2); threads runs on the path
// NEURONE_KERNEL or the CPU picks (2 threads / 1); torch runs /usr/bin/python3 scripts/bench_torch.py
// (NEURONE_PYTHON to name another) once a net, setting and allocator each round. Each measurement
// is the median of 3 epochs after a warm-up (bench-nets' measure and bench_torch.py alike) of
// about 20,000 samples (2,000 for the slow nets b, e, bncnn and vgg). The training benchmark's
// inference-only net is measured by predict (neurone) and the twin's forward pass (PyTorch); the
// other modes leave it out.
import { setThreads } from '../lib';
import { loadNative } from '../lib/backend/native';
import { NetSpec, measure, median, specs } from './bench-nets';
import { TORCH_AVX2_ENV, TUNED_MALLOC_ENV, runPython } from './bench-util';

const args = process.argv.slice(2);
const value = (flag: string): string | undefined => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
const compare = value('--compare');
const rounds = Number(value('--rounds') ?? 6);
const only = value('--nets')?.split(',');

/** A wrong argument: one line and exit 2, before anything runs. */
function refuse(message: string): never {
  console.error(`bench-interleaved: ${message}`);
  process.exit(2);
}
if (compare !== 'paths' && compare !== 'threads' && compare !== 'torch') {
  refuse(`--compare must be 'paths', 'threads' or 'torch', got ${String(compare)}`);
}
if (!Number.isInteger(rounds) || rounds < 1) refuse(`--rounds must be a positive integer, got ${value('--rounds')}`);
const unknown = only?.filter((k) => !specs.some((s) => s.key === k)) ?? [];
if (unknown.length) refuse(`unknown net(s) ${unknown.join(', ')}: expected some of ${specs.map((s) => s.key).join(', ')}`);
const loaded = loadNative();
if (!loaded.addon) refuse(`the native addon did not load (${loaded.error?.message}): build it first (npm run build:native)`);
const addon = loaded.addon;
if (compare === 'paths' && !addon.supportedKernelPaths().includes('avx512')) {
  refuse(`--compare paths needs a CPU with AVX-512; this one runs ${addon.supportedKernelPaths().join(', ')}`);
}

interface Setting {
  name: string;
  /** Median samples/s of net s under this setting. */
  measure(s: NetSpec): Promise<number>;
}
const slow = new Set(['b', 'e', 'bncnn', 'vgg']);
const batchesOf = (s: NetSpec): number => Math.max(4, Math.round((slow.has(s.key) ? 2000 : 20000) / s.batch));

/** neurone on `path` (the default one when undefined) at `threads` threads. */
function neurone(path: string | undefined, threads: number): Setting {
  return {
    name: `${path ?? addon.kernelPath()} ${threads}T`,
    async measure(s) {
      if (path) addon.setKernelPath(path);
      setThreads(threads);
      return (await measure(s, 3, batchesOf(s))).samplesPerSec;
    },
  };
}

/** PyTorch at one thread, the better of its two allocator settings; held to AVX2 with `avx2`. */
function torch(avx2: boolean): Setting {
  return {
    name: avx2 ? 'PyTorch 1T held to AVX2' : 'PyTorch 1T',
    async measure(s) {
      const args = ['--nets', s.key, '--threads', '1', '--epochs', '3', '--batches', String(batchesOf(s))];
      let best = 0;
      for (const extra of [{}, TUNED_MALLOC_ENV]) {
        const r = runPython('bench_torch.py', args, 1, { ...(avx2 ? TORCH_AVX2_ENV : {}), ...extra });
        if (!r.ok) throw new Error(`PyTorch on ${s.key}: ${r.reason}`);
        const rate = r.value.results?.[s.key]?.samplesPerSec as number | null | undefined;
        if (typeof rate !== 'number') throw new Error(`PyTorch on ${s.key}: no figure (${JSON.stringify(r.value.results?.[s.key])})`);
        best = Math.max(best, rate);
      }
      return best;
    },
  };
}

const hasAvx512 = addon.supportedKernelPaths().includes('avx512');
// The settings, and the ratios printed as [numerator, denominator] indices into them.
const [settings, ratios]: [Setting[], [number, number][]] =
  compare === 'paths'
    ? [[neurone('avx512', 1), neurone('avx2', 1)], [[0, 1]]]
    : compare === 'threads'
      ? [[neurone(undefined, 2), neurone(undefined, 1)], [[0, 1]]]
      : hasAvx512
        ? [
            [neurone('avx512', 1), torch(false), neurone('avx2', 1), torch(true)],
            [
              [0, 1],
              [2, 3],
            ],
          ]
        : [[neurone(undefined, 1), torch(false)], [[0, 1]]];

(async () => {
  const ratioNames = ratios.map(([i, j]) => `${settings[i].name} / ${settings[j].name}`);
  console.log(
    `| net | ${settings.map((x) => x.name).join(' | ')} | ${ratioNames.map((r) => `${r}, median of ${rounds} rounds (range)`).join(' | ')} |`,
  );
  console.log(`| ${['net', ...settings, ...ratios].map(() => '---').join(' | ')} |`);
  const nets = specs.filter((x) => (compare === 'torch' || !x.inferenceOnly) && (!only || only.includes(x.key)));
  for (const s of nets) {
    const rates: number[][] = settings.map(() => []);
    const perRound: number[][] = ratios.map(() => []);
    for (let r = 0; r < rounds; r++) {
      const got: number[] = [];
      const order = settings.map((_, i) => i);
      for (const i of r % 2 ? order.reverse() : order) {
        got[i] = await settings[i].measure(s);
        rates[i].push(got[i]);
      }
      ratios.forEach(([i, j], k) => perRound[k].push(got[i] / got[j]));
    }
    const cells = perRound.map((v) => `${median(v).toFixed(2)}× (${Math.min(...v).toFixed(2)}–${Math.max(...v).toFixed(2)}×)`);
    console.log(`| ${s.label} | ${rates.map((v) => median(v).toFixed(0)).join(' | ')} | ${cells.join(' | ')} |`);
  }
})().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
