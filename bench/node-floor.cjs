// The "Node floor": the least a Node Maildir writer can do durably, as vdeliver does it:
// stdin -> tmp/ (O_EXCL) -> fsync -> link into new/ -> fsync new/ (so the link survives a crash) -> unlink.
'use strict';
const fs = require('node:fs');
const dir = process.argv[2];
const name = `${Date.now()}.P${process.pid}.floor`;
const fd = fs.openSync(`${dir}/tmp/${name}`, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
const buf = Buffer.allocUnsafe(1 << 20);
for (let pos = 0, n; (n = fs.readSync(0, buf, 0, buf.length, pos)) > 0; pos += n) fs.writeSync(fd, buf, 0, n);
fs.fsyncSync(fd);
fs.closeSync(fd);
fs.linkSync(`${dir}/tmp/${name}`, `${dir}/new/${name}`);
const newDir = fs.openSync(`${dir}/new`, 'r');
fs.fsyncSync(newDir);
fs.closeSync(newDir);
fs.unlinkSync(`${dir}/tmp/${name}`);
