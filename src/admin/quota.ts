import { resolve } from 'node:path';
import { printable } from '../system/bytes';
import { readMaildirSize, recalculate, type Usage } from '../maildir/maildirsize';
import { quotaDefinition } from '../delivery/quota';
import type { PasswordRecord } from '../vmailmgr/password-record';
import { countsUsage, judgeQuota, type QuotaLimits } from '../delivery/quota-rules';
import { DeliveryFailure } from '../qmail/outcome';
import { formatUint } from '../vmailmgr/uint32';
import { type AdminContext, AdminError, openTable } from './context';
import { splitOptionValues } from './option-args';

export const QUOTA_HELP = `usage: vdeliver-admin quota [--home DIR | --user NAME] [--recalculate] [--size BYTES]
                            [--json] [NAME...]

For each virtual user with a mailbox (every one when no NAME is given): the
record's limits, the usage from the Maildir's maildirsize file, and what the
next delivery of --size bytes (default 4096) would get under vcheckquota's
rules. Reading changes nothing: where maildirsize cannot be trusted, the
mailbox is counted without writing the file. --recalculate counts every
mailbox afresh and rewrites maildirsize (run as root, it does so as the home's
owner, whose deliveries read and replace the file).
`;

export interface QuotaView {
  name: string;
  directory: string;
  limits: Record<keyof QuotaLimits, string>;
  usage?: Usage;
  /** Why the mailbox was counted instead of read from maildirsize. */
  counted?: string;
  next: { size: number; result: string };
}

export interface QuotaRequest {
  names: string[];
  recalculate: boolean;
  size: number;
  json: boolean;
}

export function parseQuotaArgs(given: string[]): QuotaRequest {
  const args = splitOptionValues(given, ['--recalculate', '--json']);
  const request: QuotaRequest = { names: [], recalculate: false, size: 4096, json: false };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === '--recalculate') request.recalculate = true;
    else if (arg === '--json') request.json = true;
    else if (arg === '--size') {
      const value = args[++i];
      if (value === undefined || !/^\d+$/.test(value)) throw new AdminError('--size needs a number of bytes');
      request.size = Number(value);
    } else if (arg.startsWith('-')) throw new AdminError(`unknown option ${arg} (see vdeliver-admin quota --help)`);
    else request.names.push(arg);
  }
  return request;
}

/** `quota [NAME...]`: limits, usage and the next delivery's fate, per user with a mailbox. */
export function quota(ctx: AdminContext, request: QuotaRequest): { out: string; errors: string[] } {
  const table = openTable(ctx);
  const views: QuotaView[] = [];
  const errors: string[] = [];
  try {
    const wanted =
      request.names.length > 0
        ? request.names.map((name) => ({ name, answer: table.find(name) }))
        : [...table.entries()].map((e) => ({
            name: e.key,
            answer: e.record ? { status: 'found' as const, record: e.record } : { status: 'invalid' as const },
          }));
    for (const { name, answer } of wanted) {
      if (answer.status !== 'found') {
        if (request.names.length > 0)
          errors.push(answer.status === 'absent' ? `no virtual user '${printable(name)}'` : `the record for '${printable(name)}' cannot be decoded`);
        continue;
      }
      if (!answer.record.hasMailbox || answer.record.directory === '') continue; // an alias has no mailbox to fill
      try {
        views.push(view(ctx, name, answer.record, request));
      } catch (error) {
        // A mailbox that cannot be counted: said for this user, and the others are still shown.
        if (!(error instanceof DeliveryFailure)) throw error;
        errors.push(`${printable(name)}: ${printable(error.outcome.line.replace(/^vdeliver: /, ''))}`);
      }
    }
  } finally {
    table.close();
  }
  const out = request.json ? views.map((v) => `${JSON.stringify(v)}\n`).join('') : views.map(format).join('');
  return { out, errors };
}

function view(ctx: AdminContext, name: string, record: PasswordRecord, request: QuotaRequest): QuotaView {
  const limits: QuotaLimits = { hardquota: record.hardquota, softquota: record.softquota, msgsize: record.msgsize, msgcount: record.msgcount };
  const maildir = resolve(ctx.home, record.directory);
  const definition = quotaDefinition(limits);
  const allowance = ctx.config.number('vdeliver-quota-allowance');
  let usage: Usage | undefined;
  let counted: string | undefined;
  if (request.recalculate) {
    usage = recalculate(maildir, definition);
    counted = 'asked for (--recalculate)';
  } else if (countsUsage(limits)) {
    const found = readMaildirSize(maildir, definition, Date.now(), () => false, false);
    usage = found.usage;
    counted = found.recalculated;
  }
  const decision = judgeQuota(limits, request.size, request.size, () => usage ?? { bytes: 0, count: 0 }, allowance);
  return {
    name: printable(name),
    directory: printable(record.directory),
    limits: {
      hardquota: formatUint(limits.hardquota),
      softquota: formatUint(limits.softquota),
      msgsize: formatUint(limits.msgsize),
      msgcount: formatUint(limits.msgcount),
    },
    usage,
    counted,
    next: { size: request.size, result: decision.kind === 'refuse' ? `bounce: ${decision.line}` : 'delivered' },
  };
}

function format(v: QuotaView): string {
  const limits = Object.entries(v.limits)
    .map(([k, value]) => `${k} ${value}`)
    .join(', ');
  const usage = v.usage
    ? `${v.usage.bytes} bytes in ${v.usage.count} message(s)${v.counted ? ` (counted: ${v.counted})` : ''}`
    : 'not needed (no count or size limit)';
  return `${v.name}  ${v.directory}\n  limits  ${limits}\n  usage   ${usage}\n  next    ${v.next.size} bytes: ${v.next.result}\n`;
}
