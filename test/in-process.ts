/**
 * A command's entry point run in this process, as main() dispatches to it: much faster than a
 * spawn, for the many refusals the command tests check.
 */

/** What a command run gave: its exit code, what it printed, what went to stderr. */
export interface CommandRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `command` on `args`, capturing stdout (its `write`) and process.stderr. */
export async function runInProcess(
  command: (argv: readonly string[], write: (text: string) => void) => Promise<number>,
  args: readonly string[],
): Promise<CommandRun> {
  let stdout = '';
  let stderr = '';
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await command(args, (t) => {
      stdout += t;
    });
    return { code, stdout, stderr };
  } finally {
    spy.mockRestore();
  }
}
