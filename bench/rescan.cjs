// node bench/rescan.cjs MAILDIR: the full rescan vcheckquota makes for every message (it runs as a
// predeliver hook): list cur/ and new/ and stat every file, summing sizes. Prints "<files> <bytes>
// <ms>", ms being the scan alone, without Node's start-up, so the bench can check the count and
// show both costs.
'use strict';
const fs = require('node:fs');
const start = process.hrtime.bigint();
let files = 0;
let bytes = 0;
for (const sub of ['cur', 'new']) {
  const dir = `${process.argv[2]}/${sub}`;
  for (const name of fs.readdirSync(dir)) {
    files += 1;
    bytes += fs.statSync(`${dir}/${name}`).size;
  }
}
console.log(`${files} ${bytes} ${Number(process.hrtime.bigint() - start) / 1e6}`);
