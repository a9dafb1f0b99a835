import { readFileSync } from 'node:fs';
import { adminContext, AdminError } from '../admin/context';
import { build } from '../admin/build';
import { list } from '../admin/list';
import { show } from '../admin/show';

const USAGE = `usage: vdeliver-admin COMMAND [options]

commands:
  show [--home DIR] [--json] NAME...   print virtual users as delivery looks them up
  list [--home DIR] [--json]           list every record of the password table
  build [--home DIR] FILE              write passwd.cdb from a users file (- for stdin)

The table is $HOME/<password-file>.cdb; configuration comes from $HOME/.vmailmgr
over $VDELIVER_CONFIG_DIR (default /etc/vmailmgr). Run a command with --help for more.
`;

const HELP: Record<string, string> = {
  show: `usage: vdeliver-admin show [--home DIR] [--json] NAME...

Looks each NAME up exactly as vdeliver would (ASCII lower-casing, then the
catch-all) and prints the decoded record. --json prints one object per line.
Exits 1 if a name is found neither directly nor through the catch-all.
`,
  list: `usage: vdeliver-admin list [--home DIR] [--json]

Lists every record in table order: name, mailbox (Yes, Yes(disabled), No)
and forwards. An invalid record is reported and the listing goes on; the
exit status is then 1.
`,
  build: `usage: vdeliver-admin build [--home DIR] FILE

Writes $HOME/<password-file>.cdb atomically from FILE, a tab-separated users
file with the columns
  key password directory forwards has_mailbox mailbox_enabled
  hardquota softquota msgsize msgcount ctime expiry personal
(forwards comma-separated; numbers decimal or - for unlimited/never; flags 1/0).
Records keep the file's order and use vmailmgr's signed-char hash, so
vmailmgr's own tools can read the table.
`,
};

interface Parsed { command: string; home?: string; json: boolean; help: boolean; args: string[] }

function parse(argv: string[], env: NodeJS.ProcessEnv): Parsed {
  const [command = '', ...rest] = argv;
  const parsed: Parsed = { command, home: env.HOME, json: false, help: false, args: [] };
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i];
    if (arg === '--json') parsed.json = true;
    else if (arg === '--help' || arg === '-h') parsed.help = true;
    else if (arg === '--home') {
      if (i + 1 >= rest.length) throw new AdminError('--home needs a directory');
      parsed.home = rest[++i];
    } else if (arg.startsWith('--home=')) parsed.home = arg.slice(7);
    else if (arg === '--') parsed.args.push(...rest.slice(i + 1)), (i = rest.length);
    else if (arg.startsWith('-') && arg !== '-') throw new AdminError(`unknown option ${arg} (see vdeliver-admin ${command} --help)`);
    else parsed.args.push(arg);
  }
  return parsed;
}

export function main(argv: string[]): number {
  try {
    const parsed = parse(argv, process.env);
    if (parsed.command === '' || parsed.command === '--help' || parsed.command === '-h' || parsed.command === 'help') {
      process.stdout.write(USAGE);
      return parsed.command === '' ? 1 : 0;
    }
    if (!(parsed.command in HELP)) throw new AdminError(`unknown command '${parsed.command}' (see vdeliver-admin --help)`);
    if (parsed.help) {
      process.stdout.write(HELP[parsed.command]);
      return 0;
    }
    const ctx = adminContext(parsed.home, process.env, Math.floor(Date.now() / 1000));
    const result =
      parsed.command === 'show' ? show(ctx, parsed.args, parsed.json)
      : parsed.command === 'list' ? list(ctx, parsed.json)
      : build(ctx, parsed.args[0], () => readFileSync(0, 'utf8'));
    process.stdout.write(result.out);
    for (const error of result.errors) process.stderr.write(`vdeliver-admin: ${error}\n`);
    return result.errors.length > 0 ? 1 : 0;
  } catch (error) {
    if (error instanceof AdminError) {
      process.stderr.write(`vdeliver-admin: ${error.message}\n`);
      return error.exitCode;
    }
    process.stderr.write(`vdeliver-admin: internal error: ${oneLine(error)}\n`);
    return 2;
  }
}

const oneLine = (error: unknown): string => String(error instanceof Error ? error.message : error).split('\n')[0];

process.exitCode = main(process.argv.slice(2));
