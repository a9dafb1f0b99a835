import { execaSync } from 'execa';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/fixtures';
import { cleanEnv, finished, runAdmin } from '../helpers/run';

/** The README's first command runs this: it must work on the example home, end to end. */
test('npm run demo delivers, forwards, bounces and explains, as described', () => {
  const run = finished(execaSync('node', [join(ROOT, 'dist', 'demo.cjs')], { env: cleanEnv(), extendEnv: false, reject: false, stripFinalNewline: false }));
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  const sandbox = /The sandbox stays for you to look at: (\S+)/.exec(run.stdout)![1];
  try {
    const exits = [...run.stdout.matchAll(/── (\S+) .*\n {3}exit (\d+)/g)].map((m) => [m[1], Number(m[2])]);
    expect(exits).toEqual([
      ['alice@example.com', 0],
      ['bob@example.com', 0],
      ['info@example.com', 0],
      ['nobody-here@example.com', 0],
      ['olduser@example.com', 100],
      ['Alice@Example.COM', 100],
      ['carol@example.com', 0],
      ['carol@example.com', 100],
      ['bob@example.com', 100],
    ]);
    expect(run.stdout).toContain('queued: envelope Fsender@remote.example\\0Tbob@elsewhere.example\\0Tcarol@example.com\\0\\0');
    expect(run.stdout).toContain("output: vdeliver: Virtual user 'olduser' has expired (#5.2.1)");
    expect(run.stdout).toContain('output: vdeliver: Sorry, this message is larger than the current maximum message size limit. (#5.3.4)');
    expect(run.stdout).toContain('output: vdeliver: Sorry, the person you sent this message has too many messages stored in the mailbox (#5.2.2)');
    expect(run.stdout).toContain('Sorry, bob does not accept mail marked as spam. (#5.7.1)');
    expect(run.stdout).toContain('result    would exit 0 (delivered)');
    // The log's table: one row per delivery above, in order; then its figures.
    const table = run.stdout.split('$ vdeliver-admin log\n')[1].split('\n\n')[0].split('\n').slice(1);
    expect(table.map((row) => row.split(/ {2,}/).slice(1, 3))).toEqual(
      exits.map(([address, code]) => [
        address === 'nobody-here@example.com' ? 'nobody-here (+)' : String(address).split('@')[0],
        code === 0 ? 'delivered' : 'bounce',
      ]),
    );
    expect(run.stdout).toContain('9 deliveries: 5 delivered, 0 skipped, 4 bounced, 0 deferred');
    const home = join(sandbox, 'home');
    expect(readdirSync(join(home, 'users', 'alice', 'new'))).toHaveLength(1);
    expect(readdirSync(join(home, 'users', 'bob', 'new'))).toHaveLength(1);
    for (const user of ['alice', 'bob', 'carol', 'olduser']) expect(readdirSync(join(home, 'users', user, 'tmp'))).toEqual([]);

    // The example home passes the doctor once qmail-queue is where it looks.
    const doctor = runAdmin(['doctor', '--home', home], {
      env: cleanEnv({ VDELIVER_CONFIG_DIR: join(sandbox, 'etc'), QMAILQUEUE: join(ROOT, 'test', 'doubles', 'qmail-queue-recorder') }),
    });
    expect(doctor.stdout).not.toMatch(/^fail/m);
    expect(doctor.status).toBe(0);
  } finally {
    if (existsSync(sandbox) && sandbox.includes('vdeliver-demo-')) rmSync(sandbox, { recursive: true, force: true });
  }
});
