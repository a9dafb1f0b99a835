import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fsPath, toBytes } from '../system/bytes';
import { readWhole } from '../system/read-whole';
import { errnoText, isErrno } from '../system/errno';
import { failDefer } from '../qmail/outcome';
import { quoteName } from '../qmail/status-line';
import { strtou, UNLIMITED } from './uint32';

/** The global directory, `/etc/vmailmgr` unless VDELIVER_CONFIG_DIR points elsewhere (tests, staging). */
export const DEFAULT_GLOBAL_DIR = '/etc/vmailmgr';
export const GLOBAL_DIR_VARIABLE = 'VDELIVER_CONFIG_DIR';
export const LOCAL_DIR_NAME = '.vmailmgr';

type ItemType = 'string' | 'dir' | 'number' | 'list' | 'text';

/**
 * Every item vdeliver reads, with vmailmgr's type and default (as printed by the real
 * `showvconfig` with no configuration present). One table, so the defaults live in one place.
 */
export const CONFIG_ITEMS = {
  'password-file': { type: 'string', default: 'passwd', use: 'the table is $HOME/<value>.cdb' },
  'default-username': { type: 'string', default: '+', use: 'catch-all entry for unknown names' },
  'qmail-root': { type: 'dir', default: '/var/qmail/', use: 'bin/qmail-queue and control/me live here' },
  'default-hardquota': { type: 'number', default: '-', use: 'limits for old-format records' },
  'default-softquota': { type: 'number', default: '-', use: 'limits for old-format records' },
  'default-msgsize': { type: 'number', default: '-', use: 'limits for old-format records' },
  'default-msgcount': { type: 'number', default: '-', use: 'limits for old-format records' },
  'default-expiry': { type: 'number', default: '-', use: 'old-format records expire now + value' },
  'user-dir': { type: 'dir', default: 'users/', use: 'where `vdeliver-admin add` creates Maildirs' },
  'postmaster-email': { type: 'string', default: 'postmaster@', use: 'forward of the postmaster aliases' },
  'postmaster-aliases': { type: 'list', default: 'mailer-daemon\npostmaster\nroot', use: 'names that reach the postmaster' },
  'vdeliver-hook-timeout': { type: 'number', default: '300', use: 'seconds before a hook is killed (vdeliver only)' },
  'vdeliver-queue-timeout': { type: 'number', default: '300', use: 'seconds before qmail-queue is killed (vdeliver only)' },
  'vdeliver-enforce-quotas': { type: 'number', default: '0', use: "1: enforce the records' limits (vcheckquota's rules)" },
  'vdeliver-quota-allowance': { type: 'number', default: '4096', use: 'bytes a message may have to pass a full soft quota' },
  'vdeliver-quota-warning': { type: 'text', default: '', use: 'a message stored once per interval when usage crosses the percentage' },
  'vdeliver-quota-warn-percent': { type: 'number', default: '90', use: 'usage, in percent of the quota, that sends the warning' },
  'vdeliver-quota-warn-interval': { type: 'number', default: '86400', use: 'seconds between two warnings to one mailbox' },
  'vdeliver-over-quota-msg': { type: 'text', default: '', use: 'printed before the status line of an over-quota bounce' },
  'vdeliver-no-user-msg': { type: 'text', default: '', use: 'printed before the status line of an unknown-user bounce' },
  'vdeliver-log': { type: 'string', default: '', use: 'a file (relative to $HOME, or absolute) that gets one JSON line per delivery' },
} as const satisfies Record<string, { type: ItemType; default: string; use: string }>;

export type ConfigItem = keyof typeof CONFIG_ITEMS;
type NumberItem = { [K in ConfigItem]: (typeof CONFIG_ITEMS)[K]['type'] extends 'number' ? K : never }[ConfigItem];
type ListItem = { [K in ConfigItem]: (typeof CONFIG_ITEMS)[K]['type'] extends 'list' ? K : never }[ConfigItem];
type TextItem = { [K in ConfigItem]: (typeof CONFIG_ITEMS)[K]['type'] extends 'text' ? K : never }[ConfigItem];
type StringItem = Exclude<ConfigItem, NumberItem | ListItem | TextItem>;

/**
 * vmailmgr's layered configuration: one value per file, `$HOME/.vmailmgr/<item>` first,
 * then the global directory, then the default. The first *valid* value wins; an empty
 * local file does not hide a global one. Each file is read at most once per process.
 * Paths and values are byte strings (src/system/bytes.ts). Unlike vmailmgr, an item that cannot be
 * read (EACCES, EISDIR, EIO...) defers the delivery: only a missing file means "not set here",
 * because a silently applied default (a catch-all, say) misroutes mail (decision 13).
 */
export class Config {
  readonly localDir: string;
  readonly globalDir: string;
  private readonly cache = new Map<string, string | undefined>();
  private readonly listings = new Map<string, Set<string> | null>();

  constructor(home: string, globalDir: string = DEFAULT_GLOBAL_DIR) {
    this.localDir = join(home, LOCAL_DIR_NAME);
    this.globalDir = globalDir;
  }

  /** Directories in value-lookup order. Hooks run in the opposite order (global, then local). */
  get directories(): string[] {
    return this.localDir === this.globalDir ? [this.localDir] : [this.localDir, this.globalDir];
  }

  string(item: StringItem): string {
    const value = this.first(item, (text) => firstLine(text) || undefined) ?? CONFIG_ITEMS[item].default;
    return CONFIG_ITEMS[item].type === 'dir' && !value.endsWith('/') ? `${value}/` : value;
  }

  number(item: NumberItem): number {
    const parse = (text: string): number | undefined => {
      const bytes = toBytes(firstLine(text));
      const parsed = strtou(bytes);
      return parsed.digits ? parsed.value : undefined;
    };
    return this.first(item, parse) ?? parse(CONFIG_ITEMS[item].default) ?? UNLIMITED;
  }

  list(item: ListItem): string[] {
    return listLines(this.first(item, (text) => text) ?? CONFIG_ITEMS[item].default);
  }

  /** A whole file (a message template, a bounce text), or undefined when no directory has a non-empty one. */
  text(item: TextItem): string | undefined {
    return this.first(item, (text) => text || undefined);
  }

  /** Which file gave an item its value, or undefined for the default (for dry runs and doctor). */
  source(item: ConfigItem): string | undefined {
    const dir = this.directories.find((d) => this.read(d, item) !== undefined);
    return dir === undefined ? undefined : join(dir, item);
  }

  private first<T>(item: ConfigItem, parse: (text: string) => T | undefined): T | undefined {
    for (const dir of this.directories) {
      const text = this.read(dir, item);
      const value = text === undefined ? undefined : parse(text);
      if (value !== undefined) return value;
    }
    return undefined;
  }

  /** Reads a directory's listing once, so absent items cost no system call (and no exception). */
  mayContain(dir: string, item: string): boolean {
    let names = this.listings.get(dir);
    if (names === undefined) {
      try {
        names = new Set(readdirSync(fsPath(dir), { encoding: 'latin1' }));
      } catch (error) {
        // Missing: nothing is set there. Unlistable (e.g. mode 0711): try the files themselves.
        names = isErrno(error, 'ENOENT', 'ENOTDIR') ? new Set() : null;
      }
      this.listings.set(dir, names);
    }
    return names === null || names.has(item);
  }

  private read(dir: string, item: string): string | undefined {
    const path = join(dir, item);
    if (!this.cache.has(path)) {
      let text: string | undefined;
      if (this.mayContain(dir, item)) {
        try {
          text = readWhole(fsPath(path)).toString('latin1');
        } catch (error) {
          if (!isErrno(error, 'ENOENT', 'ENOTDIR')) throw unreadable(path, error);
          text = undefined;
        }
      }
      this.cache.set(path, text);
    }
    return this.cache.get(path);
  }
}

export const unreadable = (path: string, error: unknown) => failDefer(`vdeliver: cannot read ${quoteName(path)}: ${errnoText(error)} (#4.3.5)`, error);

/** Only the first line counts, stripped of C `isspace` characters (including `\r`). */
export const firstLine = (text: string): string => {
  const nl = text.indexOf('\n');
  return (nl < 0 ? text : text.slice(0, nl)).replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, '');
};

/** List items: every line stripped; empty lines and `#` comments dropped. */
const listLines = (text: string): string[] =>
  text
    .split('\n')
    .map((line) => line.replace(/^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g, ''))
    .filter((line) => line !== '' && !line.startsWith('#'));
