import { closeSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { printable } from '../system/bytes';
import { temporaryFile, writeAll } from '../system/files';
import { type AdminContext, AdminError } from '../admin/context';
import { formatResult, parseTestArgs, testDelivery, type TestRequest } from '../admin/test-command';

/** `vdeliver-admin test`: one report per message file, or per message on standard input (-), then a summary line. */
export async function runTest(ctx: AdminContext, args: string[], env: Readonly<Record<string, string>>): Promise<number> {
  const req = parseTestArgs(args, env);
  if (req.files.filter((f) => f === '-').length > 1) throw new AdminError('test: standard input (-) can be read only once');
  // A message on standard input, as `build -` reads a users file: spooled, since delivery and the summary each read it from byte 0.
  const spool = req.files.includes('-') ? spoolStdin() : undefined;
  try {
    return await testFiles(ctx, req, env, spool);
  } finally {
    if (spool) rmSync(spool, { force: true });
  }
}

function spoolStdin(): string {
  const { fd, path } = temporaryFile(tmpdir(), 'vdeliver-admin-test');
  try {
    writeAll(fd, readFileSync(0));
  } finally {
    closeSync(fd);
  }
  return path;
}

async function testFiles(ctx: AdminContext, req: TestRequest, env: Readonly<Record<string, string>>, spool: string | undefined): Promise<number> {
  const counts = { delivered: 0, bounced: 0, deferred: 0 };
  const progress = process.stderr.isTTY && req.files.length > 1;
  for (const [i, file] of req.files.entries()) {
    if (progress) process.stderr.write(`\r[${i + 1}/${req.files.length}] ${printable(file)}\x1b[K`);
    const result = await testDelivery(ctx, req, file === '-' ? (spool as string) : file, env, process.pid);
    if (file === '-') result.file = '-';
    if (progress) process.stderr.write('\r\x1b[K');
    process.stdout.write(req.json ? `${JSON.stringify(result)}\n` : `${formatResult(result)}\n`);
    if (result.exitCode === 0 || result.exitCode === 99) counts.delivered++;
    else if (result.exitCode === 100) counts.bounced++;
    else counts.deferred++;
  }
  if (req.files.length > 1 && !req.json) {
    const verb = req.dryRun ? 'would be ' : '';
    process.stdout.write(
      `${req.files.length} messages: ${counts.delivered} ${verb}delivered, ${counts.bounced} ${verb}bounced, ${counts.deferred} ${verb}deferred\n`,
    );
  }
  return counts.delivered === req.files.length ? 0 : 1;
}
