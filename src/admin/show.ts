import { printable } from '../system/bytes';
import { CdbError } from '../cdb/cdb-reader';
import { lookupUser } from '../vmailmgr/lookup';
import { DeliveryFailure } from '../qmail/outcome';
import { type AdminContext, AdminError, openTable, tableError } from './context';
import { formatUser, userView } from './user-view';

/** `show NAME...`: each name (a byte string) as the delivery lookup sees it, catch-all included. */
export function show(ctx: AdminContext, names: string[], json: boolean): { out: string; errors: string[] } {
  if (names.length === 0) throw new AdminError('show: name at least one virtual user');
  const table = openTable(ctx);
  const catchAllName = ctx.config.string('default-username');
  const catchAll = printable(catchAllName);
  const out: string[] = [];
  const errors: string[] = [];
  try {
    for (const name of names) {
      let view;
      try {
        // Looked up by its exact bytes; the printable form is only what the output shows.
        view = userView(printable(name), lookupUser(table, name, catchAllName), ctx.now);
      } catch (error) {
        if (error instanceof DeliveryFailure) throw new AdminError(printable(error.outcome.line.replace(/^vdeliver: /, '')));
        if (error instanceof CdbError) throw tableError(ctx, error);
        throw error;
      }
      if (!view.found) errors.push(`no virtual user '${view.name}' and no catch-all '${catchAll}'`);
      out.push(json ? `${JSON.stringify(view)}\n` : formatUser(view, catchAll));
    }
  } finally {
    table.close();
  }
  return { out: out.join(json ? '' : '\n'), errors };
}
