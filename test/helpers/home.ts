import { spawnSync } from 'node:child_process';
import { fsPath } from '../../src/system/bytes';
import { chmodSync, closeSync, copyFileSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { CdbReader } from '../../src/cdb/cdb-reader';
import { decodePasswordRecord } from '../../src/vmailmgr/password-record';
import { UNLIMITED } from '../../src/vmailmgr/uint32';
import { qmailLocalEnv as baseEnv } from '../../src/qmail/qmail-local-env';
import { ROOT, VMAILMGR } from './fixtures';

export const RECORDER = join(ROOT, 'test', 'doubles', 'qmail-queue-recorder');
export const VDELIVER = join(ROOT, 'bin', 'vdeliver');

/** A throwaway base-user home: passwd.cdb, a Maildir per record, a qmail root, a global config dir. */
export interface TestHome {
  root: string;
  home: string;
  globalDir: string;
  qmailRoot: string;
  qqDir: string;
  hookDir: string;
}

export function makeHome(root: string, table: 'basic' | 'legacy' = 'basic'): TestHome {
  const home = join(root, 'home');
  const t: TestHome = { root, home, globalDir: join(root, 'etc'), qmailRoot: join(root, 'qmail'), qqDir: join(root, 'qq'), hookDir: join(root, 'hooks') };
  for (const dir of [home, join(home, '.vmailmgr'), t.globalDir, join(t.qmailRoot, 'control'), join(t.qmailRoot, 'bin'), t.qqDir, t.hookDir])
    mkdirSync(dir, { recursive: true });
  const source = join(VMAILMGR, table, 'passwd.cdb');
  copyFileSync(source, join(home, 'passwd.cdb'));
  const reader = CdbReader.open(source);
  for (const { data } of reader.records()) {
    const record = decodePasswordRecord(data, { hardquota: UNLIMITED, softquota: UNLIMITED, msgsize: UNLIMITED, msgcount: UNLIMITED, expiry: UNLIMITED }, 0);
    if (record?.directory) for (const sub of ['tmp', 'new', 'cur']) mkdirSync(fsPath(join(home, record.directory, sub)), { recursive: true });
  }
  reader.close();
  writeFileSync(join(t.qmailRoot, 'control', 'me'), 'mail.example.net\n');
  copyFileSync(RECORDER, join(t.qmailRoot, 'bin', 'qmail-queue'));
  chmodSync(join(t.qmailRoot, 'bin', 'qmail-queue'), 0o755);
  writeFileSync(join(home, '.vmailmgr', 'qmail-root'), `${t.qmailRoot}\n`);
  return t;
}

/** A hook that records what it saw under `label` and exits with `code`. */
export function installHook(
  t: TestHome,
  where: 'global' | 'local',
  name: 'vdeliver-predeliver' | 'vdeliver-postdeliver',
  label: string,
  code: number,
  mode = 0o755,
): void {
  const path = join(where === 'global' ? t.globalDir : join(t.home, '.vmailmgr'), name);
  const out = join(t.hookDir, label);
  writeFileSync(
    path,
    `#!/bin/sh
{ echo "argv0=$0"; echo "argc=$#"; echo "pwd=$(pwd)"; } > '${out}.info'
env -0 > '${out}.env0'
cat > '${out}.stdin'
echo '${label}' >> '${t.hookDir}/order'
exit ${code}
`,
  );
  chmodSync(path, mode);
}

export interface HookRecord {
  label: string;
  info: string[];
  env: Map<string, string>;
  stdin: Buffer;
}

export function hookRecords(t: TestHome): HookRecord[] {
  const orderFile = join(t.hookDir, 'order');
  if (!existsSync(orderFile)) return [];
  return readFileSync(orderFile, 'utf8')
    .trim()
    .split('\n')
    .map((label) => {
      const env = new Map<string, string>();
      for (const entry of readFileSync(join(t.hookDir, `${label}.env0`), 'utf8')
        .split('\0')
        .filter(Boolean)) {
        const eq = entry.indexOf('=');
        env.set(entry.slice(0, eq), entry.slice(eq + 1));
      }
      return {
        label,
        info: readFileSync(join(t.hookDir, `${label}.info`), 'utf8')
          .trim()
          .split('\n'),
        env,
        stdin: readFileSync(join(t.hookDir, `${label}.stdin`)),
      };
    });
}

export interface QueueCall {
  message: Buffer;
  envelope: Buffer;
  env: string[];
  envelopeCheck: number;
}

export function queueCalls(t: TestHome): QueueCall[] {
  return readdirSync(t.qqDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => {
      const base = join(t.qqDir, f.replace(/\.json$/, ''));
      const meta = JSON.parse(readFileSync(`${base}.json`, 'utf8'));
      return { message: readFileSync(`${base}.message`), envelope: readFileSync(`${base}.envelope`), env: meta.env, envelopeCheck: meta.envelopeCheck };
    });
}

/** Every file in every Maildir (tmp, new, cur) under the home, relative to it, with mode and bytes. */
export function maildirFiles(t: TestHome): Array<{ path: string; mode: number; content: Buffer }> {
  const found: Array<{ path: string; mode: number; content: Buffer }> = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (/\/(tmp|new|cur)$/.test(dir)) found.push({ path: relative(t.home, path), mode: statSync(path).mode & 0o777, content: readFileSync(path) });
    }
  };
  walk(t.home);
  return found.sort((a, b) => a.path.localeCompare(b.path));
}

/** qmail-local's environment for `<ext>@<host>` delivered to base user `vdomain`, plus the test's own settings. */
export function homeEnv(t: TestHome, ext: string, sender: string, host = 'example.com', ufline?: string): Record<string, string> {
  const env = baseEnv({ user: 'vdomain', home: t.home, ext, host, sender, date: new Date('2026-11-22T03:25:00Z') });
  return { PATH: '/usr/local/bin:/usr/bin:/bin', ...env, ...(ufline ? { UFLINE: ufline } : {}), VDELIVER_CONFIG_DIR: t.globalDir, QQ_RECORD_DIR: t.qqDir };
}

export interface ProgramRun {
  status: number | null;
  output: string;
}

/**
 * Run vdeliver the way qmail-local does: `/bin/sh -c '<line>'` in $HOME, umask 077, stdin the
 * message as a regular file, stdout and stderr one pipe, and only the given environment.
 */
export function runVdeliver(
  t: TestHome,
  env: Record<string, string>,
  args: string[],
  message: string | Buffer,
  stdin: 'file' | 'pipe' = 'file',
  program = VDELIVER,
): ProgramRun {
  const messagePath = join(t.root, 'message');
  writeFileSync(messagePath, message);
  const line = [program, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const fd = stdin === 'file' ? openSync(messagePath, 'r') : undefined;
  try {
    // node:child_process, not execa: execaSync takes no descriptor but 3-9 for stdin, and its
    // inputFile becomes a pipe, while qmail-local gives the message as a regular file.
    const result = spawnSync('/bin/sh', ['-c', `umask 077; exec /bin/sh -c "$0" 2>&1`, line], {
      cwd: env.HOME ?? t.home,
      env,
      stdio: [fd ?? 'pipe', 'pipe', 'pipe'],
      input: fd === undefined ? readFileSync(messagePath) : undefined,
      encoding: 'utf8',
      timeout: 60000,
    });
    return { status: result.status, output: result.stdout };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** How qmail-local reads a program's exit status (qmail-command(8)). */
export const qmailLocalExit = (code: number | null): number =>
  code === 0 || code === 99 ? 0 : [100, 64, 65, 70, 76, 77, 78, 112].includes(code ?? -1) ? 100 : 111;
