// node bench/make-message.mjs PATH SIZE SUBJECT: write a message of exactly SIZE bytes (a header, then
// pseudo-random base64 lines of 76 characters) to PATH, and print its sha256.
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, writeSync } from 'node:fs';

const [path, sizeText, subject] = process.argv.slice(2);
const fd = openSync(path, 'wx', 0o600);
const hash = createHash('sha256');
const put = (bytes) => {
  for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done, bytes.length - done);
  hash.update(bytes);
};
const header = Buffer.from(
  `From: a@b.example\nTo: alice@example.com\nSubject: ${subject}\nMIME-Version: 1.0\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n`,
);
put(header);
for (let left = Number(sizeText) - header.length; left > 0;) {
  const lines = Buffer.from(
    randomBytes(57 * 16384)
      .toString('base64')
      .replace(/.{76}/g, '$&\n'),
  );
  const chunk = lines.length <= left ? lines : Buffer.concat([lines.subarray(0, left - 1), Buffer.from('\n')]);
  put(chunk);
  left -= chunk.length;
}
closeSync(fd);
console.log(hash.digest('hex'));
