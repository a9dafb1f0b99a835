import { fsPath, printable } from '../system/bytes';
import { systemUser } from '../system/passwd-db';
import { Config, DEFAULT_GLOBAL_DIR, GLOBAL_DIR_VARIABLE } from '../vmailmgr/config';
import { CdbError } from '../cdb/cdb-reader';
import { DeliveryFailure } from '../qmail/outcome';
import { oldFormatDefaults, PasswordTable, tablePath } from '../vmailmgr/password-table';

/**
 * What every admin command needs: the base user's home, its config and its table. Paths are
 * byte strings (src/system/bytes.ts), like the config's: give them to node:fs as fsPath(), to people
 * through printable().
 */
export interface AdminContext {
  readonly home: string;
  readonly config: Config;
  /** Reads the password-file item, so it can throw what configError() turns into one line. */
  readonly tablePath: string;
  readonly now: number;
}

export class AdminError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'AdminError';
  }
}

/** `env` holds byte strings (the global config directory may be any bytes). */
export function adminContext(home: string | undefined, env: Readonly<Record<string, string | undefined>>, now: number): AdminContext {
  if (!home) throw new AdminError('no home directory: pass --home DIR or --user NAME, or set HOME');
  const config = new Config(home, env[GLOBAL_DIR_VARIABLE] || DEFAULT_GLOBAL_DIR);
  // Worked out when used: doctor must get going even when password-file cannot be read, to say so.
  return {
    home,
    config,
    now,
    get tablePath() {
      return tablePath(home, config);
    },
  };
}

/** `--user NAME`: the home directory of that system user, from the password database. */
export function homeOfUser(name: string): string {
  let user;
  try {
    user = systemUser(name);
  } catch (error) {
    throw new AdminError(`cannot look up the user '${printable(name)}': ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  if (!user) throw new AdminError(`no user '${printable(name)}' in the password database`);
  if (user.home === '') throw new AdminError(`the user '${printable(name)}' has no home directory in the password database`);
  return user.home;
}

export function openTable(ctx: AdminContext): PasswordTable {
  try {
    return PasswordTable.open(ctx.tablePath, oldFormatDefaults(ctx.config), ctx.now);
  } catch (error) {
    throw tableError(ctx, error);
  }
}

/** One sentence for a table that cannot be used; other errors pass through unchanged. */
export function tableError(ctx: AdminContext, error: unknown): unknown {
  if (!(error instanceof CdbError)) return error;
  const why =
    error.kind === 'missing' ? 'does not exist' : error.kind === 'unreadable' ? `cannot be read (${error.message})` : `is not a valid cdb (${error.message})`;
  return new AdminError(`the password table ${printable(ctx.tablePath)} ${why}`);
}

/**
 * A config item that cannot be read makes the config throw the delivery's deferral (vdeliver does
 * not guess a value). For the admin that is a sentence without "vdeliver: " and the status code;
 * undefined for any other error.
 */
export function configProblem(error: unknown): string | undefined {
  if (!(error instanceof DeliveryFailure)) return undefined;
  return printable(error.outcome.line.replace(/^vdeliver: /, '').replace(/ \(#\d\.\d+\.\d+\)$/, ''));
}

/** The config's deferral as one AdminError line; other errors pass through. */
export function configError(error: unknown): unknown {
  const problem = configProblem(error);
  return problem === undefined ? error : new AdminError(problem);
}

/** The table's path as node:fs takes it. */
export const tableFile = (ctx: AdminContext): string | Buffer => fsPath(ctx.tablePath);
