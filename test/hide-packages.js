// Preloaded (node --require) by the tests that check what neurone does when an optional package
// is not installed: every require() of a package named in NEURONE_TEST_HIDDEN_PACKAGES (commas
// between names) is resolved against no folder at all, so Node itself fails it with its own
// MODULE_NOT_FOUND error, as on a machine where the package was never installed.
'use strict';
const Module = require('module');

const hidden = new Set((process.env.NEURONE_TEST_HIDDEN_PACKAGES || '').split(',').filter(Boolean));
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, parent, isMain, options) {
  return resolve.call(this, request, parent, isMain, hidden.has(request) ? { paths: [] } : options);
};
