import { resolve } from 'node:path';
import { printable } from '../system/bytes';
import { tableKey } from '../vmailmgr/password-table';
import { type AdminContext, AdminError } from './context';
import { splitOptionValues } from './option-args';
import { type FileLine, followLines, type LineReader, openIfThere } from './log-file';
import { errnoText } from '../system/errno';
import { formatStats, StatsCollector } from './log-stats';
import { type LogFilter, matches, readEntry, TABLE_HEAD, tableRow } from './log-view';

export const LOG_HELP = `usage: vdeliver-admin log [--home DIR | --user NAME] [--to NAME] [--since TIME]
                         [--outcome KIND] [--follow] [--json] [--stats] [--file FILE]

Reads the delivery log, the file the vdeliver-log item names (relative to the
home), and prints one line per delivery, oldest first: the time, the user as
addressed (and the catch-all that answered), the outcome, the message's size,
the milliseconds vdeliver took, and where the message went (the Maildir file,
the forwards) or the status line that says why it went nowhere.

  --to NAME       deliveries addressed to NAME or NAME@domain (ASCII case
                  ignored, as in the table), or answered by the catch-all
                  NAME (--user, as for every command, names the base user
                  whose log it is)
  --since TIME    from TIME on: 2026-11-22, 2026-11-22T08:00 (local time),
                  today, yesterday, or a span back from now: 90s, 30m, 2h, 7d
  --outcome KIND  delivered, skip, bounce or defer (several: bounce,defer)
  --follow        go on printing deliveries as they are logged; a rotated log
                  (renamed, or truncated in place) is followed; stop with Ctrl-C
  --json          the log's own JSON lines, filtered
  --stats         per user: delivered, skipped, bounced and deferred messages
                  and the bytes accepted; the slowest deliveries; the hooks that
                  failed (with --json: one object)
  --file FILE     read FILE instead (a rotated log, say)

Broken lines (a write cut short, a hand edit) are reported on stderr with their
line number and skipped. Exits 1 when the log cannot be read.
`;

export interface LogRequest {
  filter: LogFilter;
  follow: boolean;
  stats: boolean;
  file?: string;
}

export interface LogOutput {
  out(text: string): void;
  err(text: string): void;
}

/** The command's options; `now` (ms) anchors --since's spans and days. */
export function parseLogArgs(given: string[], now: number): LogRequest {
  const args = splitOptionValues(given, ['--follow', '--stats']);
  const request: LogRequest = { filter: {}, follow: false, stats: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = (): string => {
      if (i + 1 >= args.length) throw new AdminError(`${arg} needs a value`);
      return args[++i];
    };
    if (arg === '--follow' || arg === '-f') request.follow = true;
    else if (arg === '--stats') request.stats = true;
    // The virtual user's name; an address as `test --to` takes one (alice@example.com) means its local part.
    else if (arg === '--to') request.filter.user = tableKey(value().replace(/@[^@]*$/, ''));
    else if (arg === '--since') request.filter.since = parseSince(value(), now);
    else if (arg === '--outcome') request.filter.outcomes = parseOutcomes(value());
    else if (arg === '--file') request.file = value();
    else throw new AdminError(`unknown ${arg.startsWith('-') ? 'option' : 'argument'} ${printable(arg)} (see vdeliver-admin log --help)`);
  }
  if (request.follow && request.stats) throw new AdminError('log: --stats sums up the log as it is; it cannot --follow');
  return request;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** --since: a date or time (local unless it says otherwise), today, yesterday, or a span back from now. */
export function parseSince(value: string, now: number): number {
  const span = /^(\d+)([smhd])$/.exec(value);
  if (span) return now - Number(span[1]) * UNIT_MS[span[2]];
  const midnight = new Date(now);
  midnight.setHours(0, 0, 0, 0);
  if (value === 'today') return midnight.getTime();
  if (value === 'yesterday') return midnight.setDate(midnight.getDate() - 1);
  // A bare date is UTC to Date.parse, but an admin means the local day.
  const day = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const time = day ? new Date(Number(day[1]), Number(day[2]) - 1, Number(day[3])).getTime() : /^\d{4}-\d{2}-\d{2}T/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(time)) throw new AdminError(`--since: '${printable(value)}' is not a time (2026-11-22, 2026-11-22T08:00, today, yesterday, 30m, 2h, 7d)`);
  return time;
}

function parseOutcomes(value: string): Set<string> {
  const kinds = value.split(',');
  const wrong = kinds.find((k) => !['delivered', 'skip', 'bounce', 'defer'].includes(k));
  if (wrong !== undefined) throw new AdminError(`--outcome: '${printable(wrong)}' is not delivered, skip, bounce or defer`);
  return new Set(kinds);
}

/** The log file: --file, else the vdeliver-log item, relative to the home. */
function logPath(ctx: AdminContext, file: string | undefined): string {
  const path = file ?? ctx.config.string('vdeliver-log');
  if (path === '')
    throw new AdminError(`no delivery log is kept: vdeliver-log is not set in ${printable(ctx.config.localDir)} or ${printable(ctx.config.globalDir)}`);
  return resolve(ctx.home, path);
}

/** `log`: the table, the JSON lines or the figures; with --follow it never returns. */
export async function logCommand(ctx: AdminContext, request: LogRequest, json: boolean, output: LogOutput): Promise<number> {
  const path = logPath(ctx, request.file);
  const stats = request.stats ? new StatsCollector() : undefined;
  const each = (line: FileLine): void => {
    const entry = readEntry(line.bytes);
    if (entry.problem) output.err(`vdeliver-admin: ${printable(path)}:${line.number}: ${entry.problem}; skipped\n`);
    const { record } = entry;
    if (!record || !matches(record, request.filter)) return;
    if (stats) stats.add(record);
    else output.out(json ? `${entry.text}\n` : tableRow(record, ctx.home));
  };
  if (!json && !stats) output.out(TABLE_HEAD);
  if (request.follow) {
    try {
      return await followLines(path, each);
    } catch (error) {
      throw new AdminError(`cannot read the delivery log ${printable(path)}: ${errnoText(error)}`);
    }
  }
  readAll(path, each);
  if (stats) output.out(json ? `${JSON.stringify(stats.result())}\n` : formatStats(stats.result()));
  return 0;
}

/** Every line of the file, the last one even without its newline (a write cut short). */
function readAll(path: string, each: (line: FileLine) => void): void {
  let reader: LineReader | undefined;
  try {
    reader = openIfThere(path);
    if (!reader) throw new AdminError(`the delivery log ${printable(path)} does not exist: nothing has been logged yet`);
    for (const line of reader.lines()) each(line);
    const cut = reader.rest();
    if (cut) each(cut);
  } catch (error) {
    if (error instanceof AdminError) throw error;
    throw new AdminError(`cannot read the delivery log ${printable(path)}: ${errnoText(error)}`);
  } finally {
    reader?.close();
  }
}
