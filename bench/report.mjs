// The bench's printed output: one table in sections, each figure with its ratio to the Node floor
// measured in the same run (always the last column), then the targets.
const WHAT = 48;
const COL = 10;

/** sections: [{ title, head: [column names, 'x floor'], rows: [[what, ...cells, ratio]] }] */
export function printTable(sections) {
  const width = Math.max(...sections.map((s) => s.head.length));
  const pad = (cells) => [...cells.slice(0, -1), ...Array(width - cells.length).fill(''), cells[cells.length - 1]];
  for (const { title, head, rows } of sections) {
    console.log(
      `\n${title.padEnd(WHAT)}${pad(head)
        .map((h) => h.padStart(COL))
        .join('')}`,
    );
    for (const [what, ...cells] of rows) {
      const ratio = cells.pop();
      console.log(
        `  ${what.padEnd(WHAT - 2)}${pad([...cells, ratio.toFixed(2)])
          .map((c) => String(c).padStart(COL))
          .join('')}`,
      );
    }
  }
  console.log('');
}

/** targets: [[what, measured, holds (true, false, or undefined: reported elsewhere)]] */
export function printTargets(targets) {
  console.log('\ntargets');
  for (const [what, measured, holds] of targets) {
    const verdict = holds === undefined ? '' : holds ? 'holds' : 'MISSED';
    console.log(`  ${what.padEnd(62)}${measured.padStart(24)}  ${verdict}`);
  }
}
