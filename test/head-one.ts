/**
 * A reader that leaves after the first line, as `| head -1` does: for the tests of what a command
 * does when its standard output closes under it.
 */
import { spawn } from 'child_process';

/**
 * Runs node with `args` (stdout and stderr piped), reads its stdout up to the first newline and
 * then closes it. Resolves with what was read (the first line and whatever came with it), all of
 * stderr and the exit code. A child still running after `guardMs` is killed (code null).
 */
export async function headOne(
  args: readonly string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; guardMs: number },
): Promise<{ first: string; stderr: string; code: number | null }> {
  const child = spawn(process.execPath, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let first = '';
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.stdout.on('data', (d) => {
    first += d;
    if (first.includes('\n')) child.stdout.destroy();
  });
  const guard = setTimeout(() => child.kill('SIGKILL'), options.guardMs);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(guard);
  return { first, stderr, code };
}
