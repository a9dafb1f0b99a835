/** The `--help` texts of add, set and remove. */
export type EditCommand = 'add' | 'remove' | 'set';

const FIELDS = `  --password-hash HASH   store HASH as the encrypted password (e.g. $1$... from openssl passwd -1)
  --password             ask for the password and store its MD5-crypt: on a terminal, a prompt that
                         does not echo, typed twice; otherwise the first line of standard input
  --password-stdin       the same (kept for scripts written for it)
  --directory DIR        the mailbox directory, stored as given (relative to the home directory)
  --forward ADDR         forward mail to ADDR (repeatable): one address, no spaces, commas or <>,
                         at most one @, at most 1002 bytes; a name without @ must be a virtual user
  --personal TEXT        the personal information field
  --hardquota N, --softquota N, --msgsize N, --msgcount N
                         limits; - means unlimited
  --expiry N             the account expires N seconds from now; - means never
  --allow-outside-home   accept a directory that is absolute or climbs out of the home
                         with .. (refused otherwise: mail would be stored outside the home)
`;
const TAIL = `The table is rewritten whole and atomically, records in their order, in vmailmgr's
version-2 format and signed-char hash. Run as root, it runs as the home's owner, so the
table stays the base user's and vdeliver can still read it.
`;

export const EDIT_HELP: Record<EditCommand, string> = {
  add: `usage: vdeliver-admin add [--home DIR | --user NAME] NAME [options]

Adds the virtual user NAME (stored lower-cased) at the end of the password table,
creating the table if there is none, then creates its Maildir (tmp, new, cur, mode 0700)
unless it exists. Defaults are vadduser's: directory ./<user-dir><NAME with . as :>,
limits and expiry from the default-* configuration items, password * (no login).

${FIELDS}  --no-mailbox           an alias: keep the directory but deliver nothing there, no Maildir

${TAIL}`,
  remove: `usage: vdeliver-admin remove [--home DIR | --user NAME] NAME

Removes the virtual user NAME from the password table. Its Maildir is left in place.

${TAIL}`,
  set: `usage: vdeliver-admin set [--home DIR | --user NAME] NAME [options]

Changes only the given fields of the virtual user NAME; the record keeps its place in the
table. --forward adds to the existing forwards.

${FIELDS}  --has-mailbox yes|no   whether mail is stored in the directory (--no-mailbox is --has-mailbox no)
  --mailbox-enabled yes|no
                         a disabled mailbox gets no copies; forwards still go out
  --remove-forward ADDR  drop the forward ADDR, exactly as listed (repeatable; an error if it is not there)
  --clear-forwards       drop the existing forwards first

A Maildir is created when the result has a mailbox in a new directory. A record in an older
format is rewritten in version 2, with the configuration's defaults at the time.

${TAIL}`,
};
