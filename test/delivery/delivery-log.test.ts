/**
 * The delivery log end to end: bin/vdeliver run as qmail-local runs it, with vdeliver-log set.
 * Every outcome's line, many writers at once, a log that cannot be written, rotation while
 * deliveries run, and 8-bit values; then the pure parts (the byte escape, the header scan).
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { fromLogBytes, isoTime, logBytes, type LogRecord } from '../../src/delivery/delivery-log';
import { headerField } from '../../src/delivery/header-scan';
import { fsPath } from '../../src/system/bytes';
import { FIXTURES, scratchDir } from '../helpers/fixtures';
import { homeEnv, installHook, makeHome, maildirFiles, queueCalls, runVdeliver, type TestHome, VDELIVER } from '../helpers/home';

const dir = scratchDir('vdeliver-delivery-log-');
afterAll(() => dir.cleanup());

const MESSAGE_ID = '<20261122032500.GA4711@mail.example.net>';
const MESSAGE = Buffer.from(`From: a@b.example\nMessage-ID:\n  ${MESSAGE_ID}\nSubject: logged\n\nHello.\n`);
const LOG = 'deliveries.log';
const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

let homes = 0;
/** A home from the basic fixture whose deliveries are logged to $HOME/deliveries.log (or as `log` says; null: no log). */
function loggedHome(log: string | null = `${LOG}\n`): TestHome {
  const t = makeHome(join(dir.path, `h${++homes}`));
  if (log !== null) writeFileSync(join(t.home, '.vmailmgr', 'vdeliver-log'), log);
  return t;
}

/** The log's lines, each checked to be whole (newline-terminated JSON). */
function logLines(path: string): LogRecord[] {
  const text = readFileSync(path, 'utf8');
  expect(text.endsWith('\n')).toBe(true);
  return text
    .slice(0, -1)
    .split('\n')
    .map((line) => JSON.parse(line) as LogRecord);
}

const env = (t: TestHome, ext: string): Record<string, string> => homeEnv(t, ext, 'sender@remote.example');
const newFile = (t: TestHome, user: string): string => join(t.home, maildirFiles(t).find((f) => f.path.startsWith(`users/${user}/new/`))!.path);

describe("each outcome's line", () => {
  test('delivered to a Maildir: the lookup, the size, the Message-ID, the file written, the time taken', () => {
    const t = loggedHome();
    expect(runVdeliver(t, env(t, 'Alice'), [], MESSAGE)).toEqual({ status: 0, output: '' });
    const [line, ...more] = logLines(join(t.home, LOG));
    expect(more).toEqual([]);
    expect(line).toEqual({
      time: expect.stringMatching(TIME),
      pid: expect.any(Number),
      outcome: 'delivered',
      exit: 0,
      ext: 'Alice',
      key: 'alice',
      via: 'direct',
      user: 'Alice',
      sender: 'sender@remote.example',
      host: 'example.com',
      size: MESSAGE.length,
      message_id: MESSAGE_ID,
      maildir: newFile(t, 'alice'),
      ms: expect.any(Number),
    });
    expect(Math.abs(Date.parse(line.time) - Date.now())).toBeLessThan(60_000);
  });

  test("delivered and forwarded: the recipients and qmail-queue's answer", () => {
    const t = loggedHome();
    expect(runVdeliver(t, env(t, 'bob'), [], MESSAGE)).toEqual({ status: 0, output: '' });
    expect(queueCalls(t)).toHaveLength(1);
    const [line] = logLines(join(t.home, LOG));
    expect(line.forward).toEqual({ to: ['bob@elsewhere.example', 'carol@example.com'], queued: true, exit: 0, ms: expect.any(Number) });
    expect(line.maildir).toBe(newFile(t, 'bob'));
  });

  test('an unknown name answered by the catch-all, forwarded only', () => {
    const t = loggedHome();
    expect(runVdeliver(t, env(t, 'nobody'), [], MESSAGE).status).toBe(0);
    const [line] = logLines(join(t.home, LOG));
    expect(line).toMatchObject({
      outcome: 'delivered',
      ext: 'nobody',
      key: '+',
      via: 'catch-all',
      user: '+',
      forward: { to: ['alice@example.com'], queued: true },
    });
    expect(line.maildir).toBeUndefined();
  });

  test.each<[string, string, number, string, { chain: string; exit: number }[]]>([
    ['skip: a predeliver hook exits 99', 'skip', 99, '', [{ chain: 'predeliver', exit: 99 }]],
    ['bounce: a predeliver hook exits 100', 'bounce', 100, 'vdeliver: Execution of vdeliver-predeliver failed:', [{ chain: 'predeliver', exit: 100 }]],
    ['defer: a predeliver hook exits 111', 'defer', 111, 'vdeliver: Execution of vdeliver-predeliver failed:', [{ chain: 'predeliver', exit: 111 }]],
  ])('%s: the hook, its exit and milliseconds, the status line as printed', (_name, outcome, code, said, hooks) => {
    const t = loggedHome();
    installHook(t, 'local', 'vdeliver-predeliver', 'pre', code);
    const run = runVdeliver(t, env(t, 'alice'), [], MESSAGE);
    expect(run.status).toBe(code);
    expect(run.output.startsWith(said)).toBe(true);
    const [line] = logLines(join(t.home, LOG));
    expect(line).toMatchObject({ outcome, exit: code, ext: 'alice', size: MESSAGE.length, message_id: MESSAGE_ID });
    expect(line.status).toBe(run.output === '' ? undefined : run.output.trimEnd());
    expect(line.hooks).toEqual(hooks.map((h) => ({ ...h, path: join(t.home, '.vmailmgr', 'vdeliver-predeliver'), ms: expect.any(Number) })));
    expect(line.maildir).toBeUndefined();
    expect(maildirFiles(t)).toEqual([]);
  });

  test('bounce before the message is read: an expired user', () => {
    const t = loggedHome();
    const run = runVdeliver(t, env(t, 'expired'), [], MESSAGE);
    expect(run).toEqual({ status: 100, output: "vdeliver: Virtual user 'expired' has expired (#5.2.1)\n" });
    const [line] = logLines(join(t.home, LOG));
    expect(line).toMatchObject({ outcome: 'bounce', exit: 100, status: run.output.trimEnd(), ext: 'expired', key: 'expired', via: 'direct' });
  });

  test('a quota refusal logs the rule and the figures', () => {
    const t = loggedHome();
    writeFileSync(join(t.home, '.vmailmgr', 'vdeliver-enforce-quotas'), '1\n');
    mkdirSync(join(t.home, 'users', 'quota', 'new'), { recursive: true });
    const big = Buffer.concat([MESSAGE, Buffer.alloc(1_000_001, 'x')]);
    const run = runVdeliver(t, env(t, 'quota'), [], big);
    expect(run.status).toBe(100);
    const [line] = logLines(join(t.home, LOG));
    expect(line).toMatchObject({ outcome: 'bounce', status: run.output.trimEnd(), size: big.length, message_id: MESSAGE_ID });
    expect(line.quota).toEqual({
      decision: 'refuse',
      rule: 'msgsize',
      message: big.length,
      stored: big.length + Buffer.byteLength(env(t, 'quota').RPLINE + env(t, 'quota').DTLINE),
      limits: { hardquota: 10000000, softquota: 5000000, msgsize: 1000000, msgcount: 500 },
    });
  });

  test('an absolute vdeliver-log, and lines appended in order', () => {
    const t = loggedHome(`${join(dir.path, 'abs.log')}\n`);
    for (const ext of ['alice', 'expired', 'carol']) runVdeliver(t, env(t, ext), [], MESSAGE);
    expect(logLines(join(dir.path, 'abs.log')).map((l) => [l.ext, l.outcome])).toEqual([
      ['alice', 'delivered'],
      ['expired', 'bounce'],
      ['carol', 'delivered'],
    ]);
  });
});

describe('a log that cannot be written changes nothing', () => {
  test.each<[string, string | null, (t: TestHome) => void, string]>([
    ['the log is a directory', `${LOG}\n`, (t) => mkdirSync(join(t.home, LOG)), 'warning: could not write the delivery log .*: EISDIR'],
    ['its directory does not exist', 'missing/d.log\n', () => undefined, 'warning: could not write the delivery log .*missing/d.log.*: ENOENT'],
    // Opening a FIFO for writing waits for a reader: with none (a log collector that died) every delivery would hang.
    ['the log is a FIFO nobody reads', `${LOG}\n`, (t) => execFileSync('mkfifo', [join(t.home, LOG)]), 'warning: could not write the delivery log .*: ENXIO'],
    [
      'the vdeliver-log item cannot be read',
      null,
      (t) => mkdirSync(join(t.globalDir, 'vdeliver-log')),
      'warning: no delivery log: cannot read .*vdeliver-log.*: EISDIR',
    ],
  ])('%s: same exit code, same status line, same Maildir, one warning', (_name, log, breakIt, warning) => {
    for (const ext of ['alice', 'expired', 'bob']) {
      const plain = loggedHome(null);
      const broken = loggedHome(log);
      breakIt(broken);
      const expected = runVdeliver(plain, env(plain, ext), [], MESSAGE);
      const got = runVdeliver(broken, env(broken, ext), [], MESSAGE);
      expect(got.status).toBe(expected.status);
      const [note, ...rest] = got.output.split('\n');
      expect(note).toMatch(new RegExp(`^vdeliver: ${warning}`));
      expect(rest.join('\n')).toBe(expected.output);
      expect(maildirFiles(broken).map((f) => f.path.split('/new/')[0])).toEqual(maildirFiles(plain).map((f) => f.path.split('/new/')[0]));
      expect(queueCalls(broken).length).toBe(queueCalls(plain).length);
    }
  });
});

/** `count` deliveries in a row by one shell, as qmail-local would start them; resolves with what failed. */
function writer(t: TestHome, messagePath: string, count: number): Promise<string> {
  return new Promise((resolve) => {
    const script = `i=0; while [ $i -lt ${count} ]; do "$0" < "$1" > /dev/null 2>&1 || echo "exit $?"; i=$((i+1)); done`;
    const child = spawn('/bin/sh', ['-c', script, VDELIVER, messagePath], { cwd: t.home, env: env(t, 'alice'), stdio: ['ignore', 'pipe', 'inherit'] });
    let failed = '';
    child.stdout.on('data', (chunk: Buffer) => (failed += chunk.toString()));
    child.on('exit', () => resolve(failed));
  });
}

/** A message whose line is long (a 900-byte Message-ID): interleaved writes would show. */
function longMessage(t: TestHome): string {
  const path = join(t.root, 'long-message');
  writeFileSync(path, `Message-ID: <${'x'.repeat(900)}@example.net>\nSubject: many\n\nbody\n`);
  return path;
}

test('8 writers x 200 deliveries: 1,600 whole lines, none interleaved, one per stored file', async () => {
  const t = loggedHome();
  const message = longMessage(t);
  const failures = await Promise.all(Array.from({ length: 8 }, () => writer(t, message, 200)));
  expect(failures.join('')).toBe('');
  const lines = logLines(join(t.home, LOG));
  expect(lines).toHaveLength(1600);
  expect(lines.every((l) => l.outcome === 'delivered' && l.message_id === `<${'x'.repeat(900)}@example.net>`)).toBe(true);
  const stored = readdirSync(join(t.home, 'users', 'alice', 'new')).map((f) => join(t.home, 'users', 'alice', 'new', f));
  expect(new Set(lines.map((l) => l.maildir))).toEqual(new Set(stored));
  expect(stored).toHaveLength(1600);
}, 600_000);

test('rotation by rename while deliveries run: every delivery is in exactly one of the files', async () => {
  const t = loggedHome();
  const message = longMessage(t);
  const rotated: string[] = [];
  let done = false;
  const writers = Promise.all(Array.from({ length: 4 }, () => writer(t, message, 40))).finally(() => (done = true));
  while (!done) {
    await new Promise((resolve) => setTimeout(resolve, 40));
    const to = join(t.root, `rotated.${rotated.length}`);
    try {
      renameSync(join(t.home, LOG), to);
      rotated.push(to);
    } catch {
      // not made again yet
    }
  }
  expect((await writers).join('')).toBe('');
  expect(rotated.length).toBeGreaterThan(1);
  const files = readdirSync(t.home).includes(LOG) ? [...rotated, join(t.home, LOG)] : rotated;
  const lines = files.flatMap(logLines);
  expect(lines).toHaveLength(160);
  expect(new Set(lines.map((l) => l.maildir)).size).toBe(160);
}, 300_000);

describe('8-bit values', () => {
  /** The Latin-1 fixture's table; EXT and SENDER set by the shell from printf escapes (Node could pass only UTF-8). */
  function runLatin1(ext: string, sender: string): { t: TestHome; status: number | null } {
    const t = loggedHome();
    copyFileSync(join(FIXTURES, 'latin1', 'passwd.cdb'), join(t.home, 'passwd.cdb'));
    for (const sub of ['tmp', 'new', 'cur']) mkdirSync(fsPath(join(t.home, 'users', 'j\xf6rg', sub)), { recursive: true });
    const base = env(t, 'x');
    delete (base as Partial<Record<string, string>>).EXT;
    delete (base as Partial<Record<string, string>>).SENDER;
    writeFileSync(join(t.root, 'message'), MESSAGE);
    const fd = openSync(join(t.root, 'message'), 'r');
    try {
      const set = `EXT="$(printf '${ext}_')"; EXT="\${EXT%_}"; SENDER="$(printf '${sender}_')"; SENDER="\${SENDER%_}"; export EXT SENDER;`;
      const run = spawnSync('/bin/sh', ['-c', `${set} exec '${VDELIVER}'`], { cwd: t.home, env: base, stdio: [fd, 'pipe', 'pipe'] });
      return { t, status: run.status };
    } finally {
      closeSync(fd);
    }
  }

  test('a Latin-1 EXT and sender keep their exact bytes, escaped as {"bytes": ...}', () => {
    const { t, status } = runLatin1('J\\366rg', 'm\\374ller\\\\x@remote.example');
    expect(status).toBe(0);
    const raw = readFileSync(join(t.home, LOG), 'latin1');
    expect(raw).toContain('"ext":{"bytes":"J\\\\xf6rg"},"key":{"bytes":"j\\\\xf6rg"}');
    expect(raw).toContain('"sender":{"bytes":"m\\\\xfcller\\\\x5cx@remote.example"}');
    const [line] = logLines(join(t.home, LOG));
    expect(fromLogBytes(line.ext!)).toBe('J\xf6rg');
    expect(fromLogBytes(line.key!)).toBe('j\xf6rg');
    expect(fromLogBytes(line.sender!)).toBe('m\xfcller\\x@remote.example');
    const stored = readdirSync(fsPath(join(t.home, 'users', 'j\xf6rg', 'new')) as Buffer, { encoding: 'latin1' });
    expect(fromLogBytes(line.maildir!)).toBe(join(t.home, 'users', 'j\xf6rg', 'new', stored[0]));
  });

  test('valid UTF-8 is written as text', () => {
    const { t } = runLatin1('\\303\\266', 'j\\303\\266rg@remote.example');
    const [line] = logLines(join(t.home, LOG));
    expect(line.ext).toBe('ö');
    expect(line.sender).toBe('jörg@remote.example');
  });

  test('any byte string survives logBytes, JSON and fromLogBytes', () => {
    const byteString = fc.uint8Array({ maxLength: 40 }).map((bytes) => Buffer.from(bytes).toString('latin1'));
    fc.assert(fc.property(byteString, (value) => fromLogBytes(JSON.parse(JSON.stringify(logBytes(value)))) === value));
  });
});

test("the line's time is Date's toISOString(), worked out without loading the time zone", () => {
  const ms = fc.integer({ min: 0, max: Date.UTC(9999, 11, 31, 23, 59, 59, 999) });
  fc.assert(fc.property(ms, (t) => isoTime(t) === new Date(t).toISOString()));
  for (const t of [0, Date.UTC(2000, 1, 29, 12), Date.UTC(2100, 2, 1) - 1, Date.UTC(2026, 11, 31, 23, 59, 59, 999)])
    expect(isoTime(t)).toBe(new Date(t).toISOString());
});

describe('the Message-ID scan', () => {
  test.each<[string, string, string | undefined]>([
    ['plain', 'Message-ID: <a@b>\n\nbody', '<a@b>'],
    ['any case, CRLF', 'Subject: x\r\nmessage-id:   <a@b>  \r\n\r\nbody', '<a@b>'],
    ['folded', 'Message-Id:\n <a@\n\tb>\nX: y\n\n', '<a@\tb>'],
    ['only in the body', 'Subject: x\n\nMessage-ID: <body@x>\n', undefined],
    ['no header at all', '\nMessage-ID: <body@x>\n', undefined],
    ['a longer field name', 'X-Message-ID: <no@x>\nMessage-ID: <yes@x>\n\n', '<yes@x>'],
    ['empty', 'Message-ID:\n\n', undefined],
    ['blanks before the colon, CRLF folding', 'Message-ID \t: <a@\r\n b>\r\n\r\n', '<a@ b>'],
    ['a Latin-1 no-break space is a byte like any other', 'Message-ID: \xa0<a@b>\xa0\n\n', '\xa0<a@b>\xa0'],
  ])('%s', (_name, text, expected) => {
    expect(headerField(text, 'message-id')).toBe(expected);
  });
});
