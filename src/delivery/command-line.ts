import { DEFAULT_OPTIONS, type DeliveryOptions } from './request';

export const USAGE = `usage: vdeliver [flags]
vmailmgr-compatible delivery agent for qmail (run from ~/.qmail-default as |vdeliver)
  -D                    Add a "Delivered-To:" line (default)
  -F                    Add a "From " mailbox line
  -R                    Add a "Return-Path:" line (default)
  -d                    Do not add the "Delivered-To:" line
  -f                    Do not add the "From " mailbox line (default)
      --no-predeliver   Do not run vdeliver-predeliver scripts
      --no-postdeliver  Do not run vdeliver-postdeliver scripts
      --quiet           Suppress all status messages
  -r                    Do not add the "Return-Path:" line

  -h, --help            Display this help and exit
      --version         Display the version and exit
`;

export type ParsedArgs = { options: DeliveryOptions; help: boolean; version: boolean } | { error: string };

const SHORT: Record<string, (o: DeliveryOptions) => void> = {
  D: (o) => {
    o.deliveredTo = true;
  },
  d: (o) => {
    o.deliveredTo = false;
  },
  R: (o) => {
    o.returnPath = true;
  },
  r: (o) => {
    o.returnPath = false;
  },
  F: (o) => {
    o.fromLine = true;
  },
  f: (o) => {
    o.fromLine = false;
  },
};

const LONG: Record<string, (o: DeliveryOptions) => void> = {
  'no-predeliver': (o) => {
    o.predeliver = false;
  },
  'no-postdeliver': (o) => {
    o.postdeliver = false;
  },
  quiet: (o) => {
    o.quiet = true;
  },
};

/**
 * vmailmgr's cli++ rules: short flags combine and the last one wins, long options match exactly
 * and take no `=value`, `-` or `--` ends the options, and no positional argument is allowed.
 */
export function parseArgs(argv: string[]): ParsedArgs {
  const options = { ...DEFAULT_OPTIONS };
  let help = false;
  let version = false;
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '-' || arg === '--') {
      i++;
      break;
    }
    if (arg.startsWith('--')) {
      const name = arg.slice(2);
      if (name === 'help') help = true;
      else if (name === 'version') version = true;
      // Own keys only: `--constructor` or `--__proto__` must not reach Object.prototype.
      else if (Object.hasOwn(LONG, name)) LONG[name](options);
      else return { error: `unknown option string: '${arg}'` };
    } else if (arg.startsWith('-')) {
      for (const letter of arg.slice(1)) {
        if (letter === 'h') help = true;
        else if (Object.hasOwn(SHORT, letter)) SHORT[letter](options);
        else return { error: `unknown option letter -${letter}` };
      }
    } else break;
  }
  if (i < argv.length) return { error: 'Too many command-line arguments' };
  return { options, help, version };
}
