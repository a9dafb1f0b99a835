/**
 * The environment qmail-local gives a program for one delivery (notqmail qmail-local.c main(),
 * observed values in qmail-contract.md §1), for a virtual domain mapped to a base user whose
 * ~/.qmail-default runs vdeliver. Admin test runs and the demo use it to run vdeliver for real.
 */
export interface QmailLocalDelivery {
  /** The base user (passwd name) and its home directory. */
  user: string;
  home: string;
  /** The virtual user part, as the sender typed it. */
  ext: string;
  host: string;
  sender: string;
  /** When qmail-local started (for UFLINE); defaults to now. */
  date?: Date;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number): string => String(n).padStart(2, '0');

/** qmail's myctime(): UTC, zero-padded day, newline included. */
export function myctime(date: Date): string {
  return `${DAYS[date.getUTCDay()]} ${MONTHS[date.getUTCMonth()]} ${two(date.getUTCDate())} ${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} ${date.getUTCFullYear()}\n`;
}

/** Characters qmail's quote() accepts unquoted in a local part (its `ok` table). */
const PLAIN = /^[!#$%&'*+\-./0-9=?A-Z^_`a-z{|}~]+$/;

function quoteLocal(local: string): string {
  const plain = PLAIN.test(local) && !local.startsWith('.') && !local.endsWith('.') && !local.includes('..');
  return plain ? local : `"${local.replace(/[\r\n"\\]/g, (c) => `\\${c}`)}"`;
}

/** qmail's quote2(): quote the local part (before the last `@`) only where RFC 821 needs it. */
export function quote2(address: string): string {
  if (address === '') return '';
  const at = address.lastIndexOf('@');
  return at < 0 ? quoteLocal(address) : quoteLocal(address.slice(0, at)) + address.slice(at);
}

/** HOST2..HOST4: drop one more dot-separated label each time; no dot left means no change. */
function shorterHost(host: string): string {
  const dot = host.lastIndexOf('.');
  return dot < 0 ? host : host.slice(0, dot);
}

/** EXT2..EXT4: what follows the 1st, 2nd, 3rd `-`; empty when there is none. */
function afterDashes(ext: string, n: number): string {
  let rest = ext;
  for (let i = 0; i < n; i++) {
    const dash = rest.indexOf('-');
    if (dash < 0) return '';
    rest = rest.slice(dash + 1);
  }
  return rest;
}

export function qmailLocalEnv(d: QmailLocalDelivery): Record<string, string> {
  const local = `${d.user}-${d.ext}`;
  const recipient = `${local}@${d.host}`;
  const host2 = shorterHost(d.host);
  const host3 = shorterHost(host2);
  return {
    HOST: d.host,
    HOME: d.home,
    USER: d.user,
    LOCAL: local,
    RECIPIENT: recipient,
    DTLINE: `Delivered-To: ${recipient.replace(/\n/g, '_')}\n`,
    SENDER: d.sender,
    RPLINE: `Return-Path: <${quote2(d.sender).replace(/\n/g, '_')}>\n`,
    UFLINE: `From ${(d.sender || 'MAILER-DAEMON').replace(/[ \t\n]/g, '-')} ${myctime(d.date ?? new Date())}`,
    EXT: d.ext,
    EXT2: afterDashes(d.ext, 1),
    EXT3: afterDashes(d.ext, 2),
    EXT4: afterDashes(d.ext, 3),
    HOST2: host2,
    HOST3: host3,
    HOST4: shorterHost(host3),
    DEFAULT: d.ext,
    NEWSENDER: d.sender,
  };
}
