// Types of scripts/prebuild-all.js for the TypeScript that uses it (test/pack.test.ts).

/** ELF e_machine of each architecture's binaries: x64 0x3e, arm64 0xb7. */
export const ELF_MACHINE: { readonly x64: number; readonly arm64: number };
/** The binaries prebuild:all makes, by platform folder. */
export const TARGETS: Readonly<Record<'linux-x64' | 'linux-arm64', { arch: 'x64' | 'arm64'; args: string[]; env: Record<string, string> }>>;
/** Where the binary for `platformTag` of the current native sources is cached. */
export function cachedBinary(platformTag: 'linux-x64' | 'linux-arm64'): string;
/** The ELF e_machine of `file`, or undefined when it is not an ELF file. */
export function elfMachine(file: string): number | undefined;
/** Why this machine cannot build the binaries, or undefined when it can. */
export function hostProblem(): string | undefined;
/** A hash of everything the native build reads. */
export function nativeSourcesHash(): string;
/** Puts the binaries into `out` (default: the checkout's prebuilds/); returns their paths by platform. */
export function prebuildAll(options?: {
  out?: string;
  only?: 'linux-x64' | 'linux-arm64';
  log?: (line: string) => void;
}): Partial<Record<'linux-x64' | 'linux-arm64', string>>;
