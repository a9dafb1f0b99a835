// The report: one line per fault, then every failure in full under the table.
const COLUMNS = [
  ['fault', 'fault'],
  ['runs', 'runs'],
  ['expected', 'expected'],
  ['observed', 'observed'],
  ['lost', 'lost'],
  ['truncated', 'truncated'],
  ['duplicated', 'duplicated'],
  ['tmpLeft', 'tmp left'],
  ['verdict', 'verdict'],
];
const NUMERIC = new Set(['runs', 'lost', 'truncated', 'duplicated', 'tmpLeft']);

export function formatTable(rows) {
  const cell = (row, key) => String(row[key] ?? '-');
  const widths = COLUMNS.map(([key, title]) => Math.max(title.length, ...rows.map((r) => cell(r, key).length)));
  const line = (cells) =>
    cells
      .map((c, i) => (NUMERIC.has(COLUMNS[i][0]) ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  const out = [line(COLUMNS.map(([, title]) => title)), line(widths.map((w) => '-'.repeat(w))), ...rows.map((r) => line(COLUMNS.map(([key]) => cell(r, key))))];
  const notes = rows.flatMap((r) => (r.notes ?? []).map((n) => `  ${r.fault}: ${n}`));
  if (notes.length > 0) out.push('', 'notes:', ...notes);
  return out.join('\n');
}
