import { Config, DEFAULT_GLOBAL_DIR, GLOBAL_DIR_VARIABLE } from '../config';
import { CdbError } from '../cdb-reader';
import { oldFormatDefaults, PasswordTable, tablePath } from '../password-table';

/** What every admin command needs: the base user's home, its config and its table. */
export interface AdminContext {
  home: string;
  config: Config;
  tablePath: string;
  now: number;
}

export class AdminError extends Error {
  constructor(message: string, readonly exitCode = 1) {
    super(message);
    this.name = 'AdminError';
  }
}

export function adminContext(home: string | undefined, env: Readonly<Record<string, string | undefined>>, now: number): AdminContext {
  if (!home) throw new AdminError('no home directory: pass --home DIR or set HOME');
  const config = new Config(home, env[GLOBAL_DIR_VARIABLE] || DEFAULT_GLOBAL_DIR);
  return { home, config, tablePath: tablePath(home, config), now };
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
  const why = error.kind === 'missing' ? 'does not exist' : error.kind === 'unreadable' ? `cannot be read (${error.message})` : `is not a valid cdb (${error.message})`;
  return new AdminError(`the password table ${ctx.tablePath} ${why}`);
}
