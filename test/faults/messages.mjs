// One distinct message per run: a header naming the run, a marker line that starts the body, then
// filler up to the wanted size. The marker is near the top, so even a copy cut short after a few
// hundred bytes can be traced back to the run it came from.
import { randomBytes } from 'node:crypto';

const MARKER = /\nmarker: (\S+)\n/;
const fillers = new Map();

/** `size` bytes of text: base64 lines of random bytes (no NULs or overlong lines, unlike raw bytes). */
function filler(size) {
  if (!fillers.has(size)) {
    const lines = randomBytes(Math.ceil(size * 0.75) + 57)
      .toString('base64')
      .match(/.{1,76}/g)
      .join('\n');
    fillers.set(size, Buffer.from(lines.slice(0, size)));
  }
  return fillers.get(size);
}

/** The message of run `id`, exactly `size` bytes (sizes below 1 KiB are not used). */
export function makeMessage(id, size) {
  const header = Buffer.from(
    'Received: (qmail 4242 invoked by uid 1009); 22 Nov 2026 03:25:00 -0000\n' +
      `From: sender@remote.example\nTo: someone@example.com\nSubject: fault run ${id}\nMessage-ID: <${id}@faults.example>\n\nmarker: ${id}\n`,
  );
  return Buffer.concat([header, filler(size).subarray(0, size - header.length)]);
}

/** The run a (possibly partial) copy belongs to, if its marker survived. */
export function markerOf(bytes) {
  return MARKER.exec(bytes.subarray(0, 4096).toString('latin1'))?.[1];
}
