/**
 * Commands run in a real terminal: util-linux's `script` gives the command an 80-column
 * pseudo-terminal, so its progress bar draws, and a ^C typed into it reaches the command as
 * SIGINT from the terminal, as a user's Ctrl-C does.
 */
import { spawn, spawnSync } from 'child_process';
import * as path from 'path';

const root = path.join(__dirname, '..');

/** Whether util-linux's script is here (BSD's takes no -c): the form used below, tried once. */
export const hasScript = spawnSync('script', ['-qfec', 'true', '/dev/null']).status === 0;

const quote = (a: string): string => `'${a.replace(/'/g, "'\\''")}'`;

/** What a command run by {@link inTerminal} drew, its exit code, and whether the ^C was typed. */
export interface TerminalRun {
  out: string;
  code: number | null;
  sent: boolean;
}

/**
 * Runs node with `args` in the repository root, in an 80-column pseudo-terminal; with
 * `interrupt`, types ^C once a bar has hidden the cursor (given a pattern, once the output matches
 * it). After `guardMs` the run is killed (the
 * test then fails on its exit code): killing script hangs up the terminal, whose SIGHUP ends the
 * command under it too.
 */
export async function inTerminal(
  args: readonly string[],
  options: { interrupt?: boolean | RegExp; guardMs: number },
): Promise<TerminalRun> {
  const cmd = `stty cols 80 rows 24; exec ${[process.execPath, ...args].map(quote).join(' ')}`;
  const child = spawn('script', ['-qfec', cmd, '/dev/null'], {
    cwd: root,
    env: { ...process.env, NEURONE_BACKEND: '' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let sent = false;
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString('latin1');
    const ready =
      options.interrupt instanceof RegExp ? options.interrupt.test(out) : options.interrupt === true && out.includes('\x1b[?25l');
    if (ready && !sent) {
      sent = true; // the bar has hidden the cursor
      child.stdin.write('\x03');
    }
  });
  const guard = setTimeout(() => child.kill('SIGKILL'), options.guardMs);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(guard);
  return { out, code, sent };
}
