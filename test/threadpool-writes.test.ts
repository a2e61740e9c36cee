/**
 * Index arrays in plain memory that another thread writes during a native call: Node's thread pool
 * writes a caller's typed array (crypto.randomFill, fs.read), so plain memory is not this thread's
 * alone. Class labels are copied before they are checked; max pooling's backward pass adds through
 * the value it checked, never a second read. Before, both crashed the process (or wrote past the
 * gradient silently). The race is set up in a child (threadpool-writes-child.ts).
 */
import { spawnSync } from 'child_process';
import * as path from 'path';
import { loadNative } from '../lib/backend/native';
import { tsFile } from './ts-child';

const root = path.join(__dirname, '..');
const run = loadNative().addon && process.env.NEURONE_BACKEND !== 'js' ? test : test.skip;

describe.each(['labels', 'argmax'])('%s written by the thread pool during the call', (which) => {
  run('every call succeeds or throws a RangeError; the process does not crash', () => {
    const r = spawnSync(process.execPath, [...tsFile(path.join(__dirname, 'threadpool-writes-child.ts')), which, '30'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, UV_THREADPOOL_SIZE: '1' },
      timeout: 120_000,
    });
    expect(r.signal).toBeNull();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const counts = JSON.parse(r.stdout.trim().split('\n').pop() as string);
    expect(counts.ok + counts.refused).toBe(30);
  });
});
