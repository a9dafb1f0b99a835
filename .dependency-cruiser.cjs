// The layers of ARCHITECTURE.md: each folder of src/ may import only the folders below it.
// `npm run lint` runs this; a forbidden import fails CI.
const BELOW = {
  system: [],
  cdb: ['system'],
  qmail: ['system'],
  maildir: ['qmail', 'system'],
  vmailmgr: ['cdb', 'qmail', 'system'],
  delivery: ['maildir', 'vmailmgr', 'cdb', 'qmail', 'system'],
  admin: ['delivery', 'maildir', 'vmailmgr', 'cdb', 'qmail', 'system'],
};

module.exports = {
  forbidden: [
    ...Object.entries(BELOW).map(([room, allowed]) => ({
      name: `${room}-imports-only-below`,
      comment: `src/${room} may import ${allowed.length ? allowed.map((r) => `src/${r}`).join(', ') : 'nothing else in src'}`,
      severity: 'error',
      from: { path: `^src/${room}/` },
      to: { path: '^src/', pathNot: [`^src/${room}/`, ...allowed.map((r) => `^src/${r}/`)] },
    })),
    { name: 'no-cycles', severity: 'error', from: {}, to: { circular: true } },
    { name: 'no-orphans', comment: 'every module of src/ is used', severity: 'error', from: { orphan: true, path: '^src/', pathNot: ['^src/cli/'] }, to: {} },
    { name: 'mailparser-in-admin-only', severity: 'error', from: { path: '^src/', pathNot: '^src/admin/' }, to: { path: 'mailparser' } },
    // execa costs 60-110 ms per hooked or forwarded delivery (README): only vdeliver-admin's re-run as the base user uses it.
    { name: 'execa-in-as-user-only', severity: 'error', from: { path: '^src/', pathNot: '^src/system/as-user\\.ts$' }, to: { path: 'execa' } },
    { name: 'as-user-in-admin-only', severity: 'error', from: { path: '^src/', pathNot: '^src/cli/admin\\.ts$' }, to: { path: '^src/system/as-user\\.ts$' } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
  },
};
