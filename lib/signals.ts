/**
 * Giving a signal back after a handler has run its cleanups (the commands' locks and folders,
 * the progress bar's terminal state, a held atomic write). @internal
 */
import * as os from 'os';

/**
 * Delivers `signal` to this process again: to the listeners it has now, or, with none left, its
 * default action, so the process ends as it would have without neurone (the shell reports 128 +
 * the signal's number: 130 for SIGINT, 143 for SIGTERM). On POSIX the signal is raised again (the
 * listeners get it at the event loop's next poll). Windows has no signals to raise: there
 * process.kill ends the process at once with exit code 1, so the listeners are called in the
 * next turn, or the process exits with 128 + the number itself.
 * @internal
 */
export function deliverSignal(signal: NodeJS.Signals): void {
  if (process.platform !== 'win32') {
    process.kill(process.pid, signal);
    return;
  }
  if (process.listenerCount(signal) > 0) {
    setImmediate(() => process.emit(signal, signal));
    return;
  }
  process.exit(128 + (os.constants.signals[signal] ?? 0));
}
