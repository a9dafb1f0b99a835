/**
 * Regression: "a kill during a forward queues a truncated copy". vdeliver used to hand qmail-queue
 * its envelope as a file written in advance, so a vdeliver killed while streaming the message left
 * qmail-queue an end of message followed by a complete envelope, and it queued the cut-off copy.
 */
import { spawn } from 'node:child_process';
import { chmodSync, closeSync, existsSync, openSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, scratchDir } from '../helpers/fixtures';
import { makeHome, homeEnv, VDELIVER } from '../helpers/home';

const dir = scratchDir('vdeliver-kill-forward-');
afterAll(() => dir.cleanup());
const SLOW_QUEUE = join(ROOT, 'test', 'doubles', 'qmail-queue-slow');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test('vdeliver killed while qmail-queue reads the message: nothing is queued (qmail-queue sees no envelope, exits 54)', async () => {
  const t = makeHome(join(dir.path, 'home'));
  // qmail-queue through a wrapper that notes its exit code once it is done.
  const exitFile = join(t.root, 'qq.exit');
  const wrapper = join(t.root, 'qmail-queue');
  const startedFile = join(t.root, 'qq.started');
  writeFileSync(
    wrapper,
    `#!/bin/sh\ntouch '${startedFile}'\n'${process.execPath}' '${SLOW_QUEUE}'\necho $? > '${exitFile}.part' && mv '${exitFile}.part' '${exitFile}'\n`,
  );
  chmodSync(wrapper, 0o755);
  // 2 MiB at 64 KiB per 50 ms: qmail-queue needs 1.6 s to read it; vdeliver is killed 0.3 s after it starts.
  const messagePath = join(t.root, 'message');
  writeFileSync(messagePath, Buffer.concat([Buffer.from('Subject: big\n\n'), Buffer.alloc(2 << 20, 'x')]));
  const env = { ...homeEnv(t, 'info', 'sender@remote.example'), QMAILQUEUE: wrapper, QQ_PAUSE_MS: '50' };
  const stdin = openSync(messagePath, 'r');
  const child = spawn(VDELIVER, [], { env, cwd: t.home, stdio: [stdin, 'ignore', 'ignore'] });
  closeSync(stdin);
  const exited = new Promise<string | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  for (let waited = 0; !existsSync(startedFile) && waited < 20000; waited += 20) await sleep(20);
  await sleep(300);
  child.kill('SIGKILL');
  expect(await exited).toBe('SIGKILL');
  for (let waited = 0; !existsSync(exitFile) && waited < 20000; waited += 100) await sleep(100);
  expect(readFileSync(exitFile, 'utf8').trim()).toBe('54');
  expect(readdirSync(t.qqDir).filter((f) => f.startsWith('queued-'))).toEqual([]);
}, 30000);
