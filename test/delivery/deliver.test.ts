/** deliver() itself, in-process: outcomes that must hold whatever happens around the delivery. */
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { deliver } from '../../src/delivery/deliver';
import { DEFAULT_OPTIONS } from '../../src/delivery/request';
import { MessageSource } from '../../src/delivery/message-source';
import { scratchDir } from '../helpers/fixtures';
import { makeHome, maildirFiles, homeEnv } from '../helpers/home';

const dir = scratchDir('vdeliver-deliver-');
afterAll(() => dir.cleanup());
const MESSAGE = Buffer.from('Subject: close\n\nbody\n');

test('a failure to close the message after the commit does not turn exit 0 into 111', async () => {
  const t = makeHome(join(dir.path, 'close-fails'));
  const report = await deliver({
    options: DEFAULT_OPTIONS,
    env: homeEnv(t, 'alice', 'sender@remote.example'),
    globalDir: t.globalDir,
    openMessage: async () => {
      // A spooled message (a pipe) has a private copy to remove; make that removal fail.
      const source = await MessageSource.spool(Readable.from([MESSAGE]), t.root);
      const close = source.close.bind(source);
      source.close = () => {
        close();
        throw Object.assign(new Error('EIO: i/o error, unlink'), { errno: -5, code: 'EIO' });
      };
      return source;
    },
    now: Date.now,
    naming: { now: Date.now, pid: process.pid, hostname: 'test' },
  });
  expect(report.outcome).toEqual({ kind: 'delivered', line: undefined });
  expect(report.notes).toEqual(['vdeliver: warning: could not remove the private copy of the message: EIO (i/o error)']);
  expect(maildirFiles(t).map((f) => f.path.split('/new/')[0])).toEqual(['users/alice']);
});
