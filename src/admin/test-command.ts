import { closeSync, openSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { basename, relative } from 'node:path';
import { byteString, fromText, fsPath, printable } from '../system/bytes';
import { errnoText } from '../system/errno';
import { GLOBAL_DIR_VARIABLE } from '../vmailmgr/config';
import { deliver, type Report } from '../delivery/deliver';
import { type Trace, tracing } from '../delivery/delivery-trace';
import { DEFAULT_OPTIONS } from '../delivery/request';
import { envelope } from '../delivery/forward';
import { MessageSource } from '../delivery/message-source';
import { exitCode } from '../qmail/outcome';
import { tableKey } from '../vmailmgr/password-table';
import { qmailLocalEnv } from '../qmail/qmail-local-env';
import { type AdminContext, AdminError } from './context';
import { splitOptionValues } from './option-args';
import { summarize, type MessageSummary } from './message-summary';
import { limit } from './user-view';

export const TEST_HELP = `usage: vdeliver-admin test [--home DIR | --user NAME] --to ADDRESS [--from SENDER]
                           [--base-user NAME] [--env NAME=VALUE]... [--dry-run] [--json] FILE...

Delivers each FILE (- for standard input) the way qmail-local would run vdeliver for ADDRESS on a virtual
domain mapped to the base user (same environment, same delivery code), and explains
every step: the message, the lookup, the hooks, the Maildir file or qmail-queue
envelope, the exit code and the line qmail would log or bounce with.

  --dry-run   walk the same steps and change nothing: no file, no forward, no hook
  --json      one JSON object per message (null for unlimited / never)
  --from      envelope sender (default: $USER@<this host's name>; "" for a bounce)
  --base-user the base user's name (default: $USER, else the home's last component;
              run as root, $USER is the home's owner)
  --env NAME=VALUE
              one more variable for the delivery's environment (repeatable); QMAILQUEUE
              and VDELIVER_CONFIG_DIR are passed on from yours, nothing else is

Exits 0 when every message was delivered (or would be), 1 otherwise.
`;

export interface TestRequest {
  to: string;
  from: string;
  baseUser: string;
  dryRun: boolean;
  json: boolean;
  files: string[];
  env: Record<string, string>;
}

export interface TestResult {
  file: string;
  address: string;
  dryRun: boolean;
  message: MessageSummary;
  lookup: { ext: string; key: string; found: boolean; via?: string; name?: string; catchAll: string; record?: Record<string, unknown> };
  hooks: { predeliver: HookView[]; postdeliver: HookView[] };
  maildir?: { directory: string; file?: string };
  quota?: {
    decision: string;
    line?: string;
    limits: Record<string, number | null>;
    usage?: { bytes: number; count: number };
    recalculated?: string;
    message: number;
    stored: number;
  };
  forward?: { qmailQueue: string; sender: string; recipients: string[]; envelope: string; sent: boolean };
  exitCode: number;
  line: string;
  notes: string[];
  /** The delivery log's line (JSON text), the file it went to or would go to, and whether it was written. */
  log?: { file?: string; line: string; written: boolean };
}

interface HookView {
  path: string;
  ran: boolean;
  exitCode?: number;
  result?: string;
  output?: string;
}

export function parseTestArgs(given: string[], env: Readonly<Record<string, string | undefined>>): TestRequest {
  const args = splitOptionValues(given, ['--dry-run', '--json']);
  const request: TestRequest = { to: '', from: defaultSender(env), baseUser: '', dryRun: false, json: false, files: [], env: {} };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const value = (): string => {
      if (i + 1 >= args.length) throw new AdminError(`${arg} needs a value`);
      return args[++i];
    };
    if (arg === '--to') request.to = value();
    else if (arg === '--from') request.from = value();
    else if (arg === '--base-user') request.baseUser = value();
    else if (arg === '--dry-run') request.dryRun = true;
    else if (arg === '--env') {
      const setting = value();
      const eq = setting.indexOf('=');
      if (eq <= 0) throw new AdminError(`--env needs NAME=VALUE, not '${setting}'`);
      request.env[setting.slice(0, eq)] = setting.slice(eq + 1);
    } else if (arg === '--json') request.json = true;
    else if (arg.startsWith('-') && arg !== '-') throw new AdminError(`unknown option ${arg} (see vdeliver-admin test --help)`);
    else request.files.push(arg);
  }
  if (!/^[^@]*@[^@]+$/.test(request.to)) throw new AdminError('test: --to needs an address like alice@example.com');
  if (request.files.length === 0) throw new AdminError('test: name at least one message file');
  return request;
}

const defaultSender = (env: Readonly<Record<string, string | undefined>>): string => `${env.USER || userInfo().username}@${hostname()}`;

/** Deliver (or dry-run) one message through the real delivery code, and describe what happened. */
export async function testDelivery(
  ctx: AdminContext,
  req: TestRequest,
  file: string,
  env: Readonly<Record<string, string | undefined>>,
  pid: number,
): Promise<TestResult> {
  const at = req.to.lastIndexOf('@');
  const [ext, host] = [req.to.slice(0, at), req.to.slice(at + 1)];
  const baseUser = req.baseUser || env.USER || basename(ctx.home);
  const deliveryEnv: Record<string, string> = {
    PATH: env.PATH ?? '/usr/bin:/bin',
    ...qmailLocalEnv({ user: baseUser, home: ctx.home, ext, host, sender: req.from }),
  };
  for (const name of ['QMAILQUEUE', GLOBAL_DIR_VARIABLE]) if (env[name]) deliveryEnv[name] = env[name] as string;
  Object.assign(deliveryEnv, req.env);
  let fd: number;
  try {
    fd = openSync(fsPath(file), 'r');
  } catch (error) {
    throw new AdminError(`cannot read ${printable(file)}: ${errnoText(error)}`);
  }
  let message: MessageSummary;
  let report: Report;
  const { trace, observer } = tracing();
  try {
    message = await summarize(fsPath(file));
    report = await deliver(
      {
        options: DEFAULT_OPTIONS,
        env: deliveryEnv,
        globalDir: ctx.config.globalDir,
        openMessage: async () => MessageSource.fromSeekableFd(fd) ?? Promise.reject(new Error(`${file} is not a regular file`)),
        now: Date.now,
        naming: { now: Date.now, pid, hostname: fromText(hostname()) },
        dryRun: req.dryRun,
        captureHookOutput: true,
        showLogLine: true,
      },
      observer,
    );
  } finally {
    closeSync(fd);
  }
  return describe(ctx, req, file, ext, message, report, trace);
}

function describe(ctx: AdminContext, req: TestRequest, file: string, ext: string, message: MessageSummary, report: Report, trace: Trace): TestResult {
  const plan = trace.plan;
  const catchAll = ctx.config.string('default-username');
  const user = trace.user;
  const r = user?.record;
  const hookViews = (paths: string[], runs: typeof trace.predeliver): HookView[] =>
    paths.map((path) => {
      const run = runs.find((x) => x.path === path);
      const shown = printable(path);
      return run
        ? { path: shown, ran: true, exitCode: run.exitCode, result: run.timedOut ? 'timed out' : run.verdict, output: run.output && printable(run.output) }
        : { path: shown, ran: false };
    });
  // Names and paths are byte strings: shown as UTF-8 text, or with \xNN for other bytes.
  return {
    file: printable(file),
    address: printable(req.to),
    dryRun: req.dryRun,
    message,
    lookup: {
      ext: printable(ext),
      key: printable(tableKey(ext)),
      found: user !== undefined,
      via: user?.via,
      name: user && printable(user.name),
      catchAll: printable(catchAll),
      record: r && {
        directory: printable(r.directory),
        hasMailbox: r.hasMailbox,
        mailboxEnabled: r.mailboxEnabled,
        forwards: r.forwards.map(printable),
        expiry: limit(r.expiry),
        msgsize: limit(r.msgsize),
        msgcount: limit(r.msgcount),
        hardquota: limit(r.hardquota),
        softquota: limit(r.softquota),
      },
    },
    hooks: { predeliver: hookViews(plan?.predeliver ?? [], trace.predeliver), postdeliver: hookViews(plan?.postdeliver ?? [], trace.postdeliver) },
    maildir: plan?.maildir && {
      directory: printable(relative(ctx.home, plan.maildir.path)),
      file: trace.stored && printable(relative(ctx.home, trace.stored)),
    },
    quota: plan?.quota &&
      trace.quota && {
        decision:
          trace.quota.decision.kind === 'refuse'
            ? `refuse (${trace.quota.decision.rule})`
            : trace.quota.decision.overSoft
              ? 'accept (over the soft quota, within the allowance)'
              : 'accept',
        line: trace.quota.decision.kind === 'refuse' ? trace.quota.decision.line : undefined,
        limits: Object.fromEntries(Object.entries(plan.quota.limits).map(([k, v]) => [k, limit(v)])),
        usage: trace.quota.usage,
        recalculated: trace.quota.recalculated,
        message: trace.quota.message,
        stored: trace.quota.stored,
      },
    forward: plan?.forward && {
      qmailQueue: printable(plan.forward.qmailQueue),
      sender: printable(plan.forward.sender),
      recipients: plan.forward.recipients.map(printable),
      envelope: printable(byteString(envelope(plan.forward.sender, plan.forward.recipients))).replace(/\0/g, '\\0'),
      sent: trace.forward?.queued ?? false,
    },
    exitCode: exitCode(report.outcome),
    line: printable(report.outcome.line ?? ''),
    notes: report.notes.map(printable),
    log: report.log && { file: report.log.path && printable(report.log.path), line: report.log.line.trimEnd(), written: report.log.written },
  };
}

const MEANING: Record<number, string> = { 0: 'delivered', 99: 'delivered, stop', 100: 'bounce', 111: 'deferred: qmail would retry' };

/** The human-readable account of one test delivery. */
export function formatResult(t: TestResult): string {
  const would = (done: string, planned: string): string => (t.dryRun ? planned : done);
  const out: string[] = [`${t.file} -> ${t.address}${t.dryRun ? '  (dry run: nothing is changed)' : ''}`];
  const m = t.message;
  out.push(`  message   ${m.size} bytes${m.problem ? `; ${m.problem}` : ''}`);
  for (const [label, value] of [
    ['From', m.from],
    ['To', m.to],
    ['Subject', m.subject],
    ['Date', m.date],
    ['Message-ID', m.messageId],
  ])
    if (value) out.push(`            ${label}: ${value}`);
  if (m.attachments.length)
    out.push(`            ${m.attachments.length} attachment(s): ${m.attachments.map((a) => `${a.filename} (${a.contentType}, ${a.size} bytes)`).join(', ')}`);
  const l = t.lookup;
  if (l.found) {
    out.push(`  lookup    '${l.ext}' -> key '${l.key}': ${l.via === 'direct' ? 'found' : `not found; the catch-all '${l.catchAll}' answers`}`);
    const rec = l.record as Record<string, unknown>;
    out.push(
      `            directory '${rec.directory}', mailbox ${rec.hasMailbox ? (rec.mailboxEnabled ? 'enabled' : 'disabled') : 'none'}, forwards ${(rec.forwards as string[]).join(', ') || 'none'}, expiry ${rec.expiry ?? '-'}, msgsize ${rec.msgsize ?? '-'}`,
    );
  } else out.push(`  lookup    '${l.ext}' -> key '${l.key}': not found, and no catch-all '${l.catchAll}'`);
  for (const [name, views] of [
    ['predeliver', t.hooks.predeliver],
    ['postdeliver', t.hooks.postdeliver],
  ] as const) {
    for (const h of views) {
      out.push(`  hook      ${name} ${h.path}: ${h.ran ? `exited ${h.exitCode ?? '-'} (${h.result})` : would('not run', 'would run')}`);
      for (const line of (h.output ?? '').split('\n').filter(Boolean)) out.push(`            | ${line}`);
    }
  }
  if (t.quota) {
    const q = t.quota;
    const limits = Object.entries(q.limits)
      .map(([k, v]) => `${k} ${v ?? '-'}`)
      .join(', ');
    const usage = q.usage
      ? `usage ${q.usage.bytes} bytes in ${q.usage.count} message(s)${q.recalculated ? ` (recounted: maildirsize ${q.recalculated})` : ' (from maildirsize)'}`
      : 'usage not needed';
    out.push(`  quota     ${q.decision}: message ${q.message} bytes (${q.stored} stored); ${usage}; ${limits}`);
  }
  if (t.maildir)
    out.push(
      `  maildir   ${t.maildir.file ? `stored ${t.maildir.file}` : would(`nothing stored in ${t.maildir.directory}`, `would store in ${t.maildir.directory}/new/`)}`,
    );
  if (t.forward)
    out.push(`  forward   ${t.forward.sent ? 'queued' : would('not queued', 'would queue')} through ${t.forward.qmailQueue}: ${t.forward.envelope}`);
  for (const note of t.notes) out.push(`  note      ${note}`);
  if (t.log) out.push(`  log       ${logVerb(t)}:`, `            ${t.log.line}`);
  out.push(`  result    ${t.dryRun ? 'would exit' : 'exit'} ${t.exitCode} (${MEANING[t.exitCode] ?? 'unexpected'})${t.line ? `: ${t.line}` : ''}`);
  return `${out.join('\n')}\n`;
}

/** Where the delivery's log line went, or would go. */
function logVerb(t: TestResult): string {
  if (!t.log?.file) return 'not kept (vdeliver-log is not set); the line would be';
  if (t.dryRun) return `would log to ${t.log.file}`;
  return t.log.written ? `logged to ${t.log.file}` : `not logged to ${t.log.file} (see the note)`;
}
