/** Where the MNIST loader looks: the development tree's copy only from a checkout, never from node_modules. */
import * as path from 'path';
import { developmentCandidates } from '../lib/data/mnist';

test('a checkout searches ../shared/data/mnist beside it', () => {
  expect(developmentCandidates(path.join('/work', 'main'))).toEqual([
    { dir: path.resolve('/work/shared/data/mnist'), why: 'development data' },
  ]);
});

test('an installed package (plain or scoped) does not look under node_modules', () => {
  expect(developmentCandidates(path.join('/app', 'node_modules', 'neurone'))).toEqual([]);
  expect(developmentCandidates(path.join('/app', 'node_modules', '@acme', 'neurone'))).toEqual([]);
});
