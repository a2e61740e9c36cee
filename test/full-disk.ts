/**
 * File system faults for tests run in this process: a disk that fills while one file is written
 * (every write to a descriptor opened on a path `matches` accepts fails with ENOSPC, as a full
 * disk's write does), and a file the system will not open for a while (EMFILE: the process out of
 * descriptors).
 */
import * as fs from 'fs';

/** The full disk in place: `hit()` says whether a matching file was opened; `restore()` ends it. */
export interface FullDisk {
  hit(): boolean;
  restore(): void;
}

export function diskFullAt(matches: (file: string) => boolean): FullDisk {
  // The module object itself, which the code under test calls through (a spy on an import binding would miss).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const nodeFs: typeof fs = require('fs');
  const realOpen = nodeFs.openSync;
  const realWrite = nodeFs.writeSync;
  let fullFd = -1;
  const opens = jest.spyOn(nodeFs, 'openSync').mockImplementation(((p: fs.PathLike, ...rest: unknown[]) => {
    const fd = (realOpen as (...a: unknown[]) => number)(p, ...rest);
    if (matches(String(p))) fullFd = fd;
    return fd;
  }) as typeof fs.openSync);
  const writes = jest.spyOn(nodeFs, 'writeSync').mockImplementation(((fd: number, ...rest: unknown[]) => {
    if (fd === fullFd) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    return (realWrite as (...a: unknown[]) => number)(fd, ...rest);
  }) as typeof fs.writeSync);
  return {
    hit: () => fullFd !== -1,
    restore: () => {
      writes.mockRestore();
      opens.mockRestore();
    },
  };
}

/**
 * Opening `file` fails with EMFILE until `restore()`: the file is fine, the process is out of
 * descriptors for a moment. Other files open as usual.
 */
export function openFailsFor(file: string): { restore(): void } {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const nodeFs: typeof fs = require('fs');
  const realOpen = nodeFs.openSync;
  const opens = jest.spyOn(nodeFs, 'openSync').mockImplementation(((p: fs.PathLike, ...rest: unknown[]) => {
    if (String(p) === file) throw Object.assign(new Error(`EMFILE: too many open files, open '${file}'`), { code: 'EMFILE' });
    return (realOpen as (...a: unknown[]) => number)(p, ...rest);
  }) as typeof fs.openSync);
  return { restore: () => opens.mockRestore() };
}
