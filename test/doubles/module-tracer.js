// Preloaded with `node -r`: records every module the program requires, written at exit to
// $MODULE_TRACE, so tests can prove what the delivery path never loads.
'use strict';
const Module = require('node:module');
const fs = require('node:fs');
const loaded = new Set();
const original = Module._load;
Module._load = function load(request, parent, isMain) {
  const result = original.apply(this, arguments);
  try {
    loaded.add(Module._resolveFilename(request, parent, isMain));
  } catch {
    loaded.add(request);
  }
  return result;
};
// Node's own modules too (process.moduleLoadList: `NativeModule stream`...), to keep the stream
// machinery off the delivery path.
process.on('exit', () => fs.writeFileSync(process.env.MODULE_TRACE, [...loaded, ...process.moduleLoadList].join('\n')));
