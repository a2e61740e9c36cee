// Preloaded (node --require) by the tests that check what neurone does when an optional package
// is not installed, or is installed at another version:
// - every require() of a package named in NEURONE_TEST_HIDDEN_PACKAGES (commas between names), or
//   of a file in it (name/package.json), is resolved against no folder at all, so Node itself
//   fails it with its own MODULE_NOT_FOUND error, as on a machine where it was never installed;
// - NEURONE_TEST_PACKAGES_FROM ("name=folder", commas between) resolves that package and its files
//   from folder/node_modules instead, as if it were installed there.
'use strict';
const Module = require('module');

const hidden = new Set((process.env.NEURONE_TEST_HIDDEN_PACKAGES || '').split(',').filter(Boolean));
const from = new Map(
  (process.env.NEURONE_TEST_PACKAGES_FROM || '')
    .split(',')
    .filter(Boolean)
    .map((pair) => [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)]),
);
// The package a request names: its first path segment, or two for a scoped name (@scope/name).
const packageOf = (request) =>
  request
    .split('/')
    .slice(0, request.startsWith('@') ? 2 : 1)
    .join('/');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, parent, isMain, options) {
  const name = packageOf(request);
  if (hidden.has(name)) return resolve.call(this, request, parent, isMain, { paths: [] });
  const folder = from.get(name);
  return resolve.call(this, request, parent, isMain, folder === undefined ? options : { paths: [folder] });
};
