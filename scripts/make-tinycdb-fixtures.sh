#!/bin/sh
# Make the tinycdb references in fixtures/tinycdb/ with Debian's tinycdb (apt-get install tinycdb).
# Run once when a reference is added, and commit what it writes; the tests compare against the
# committed files, so `npm test` needs no tinycdb. A CI test re-runs this into a scratch directory
# and checks that every committed file is still what tinycdb makes (test/cdb/tinycdb-fixtures.test.ts).
#
#   scripts/make-tinycdb-fixtures.sh [OUTDIR]     (default: fixtures/tinycdb)
set -eu
cd "$(dirname "$0")/.."
in=fixtures/tinycdb
out=${1:-$in}
mkdir -p "$out/dumps"

# Tables tinycdb builds from cdbmake input (NAME.in), to compare our writer's bytes with.
for name in basic-ascii users-3000 edge empty dupes; do
  cdb -c -t "$out/$name.tmp" "$out/$name.cdb" < "$in/$name.in"
done

# tinycdb's reading of real tables (vmailmgr's, fixtures/latin1) and of the ones test/admin/admin-edit.test.ts
# makes (fixtures/tinycdb/edited/): `cdb -d` lists every record in file order, in cdbmake format.
dump() { cdb -d "$1" > "$out/dumps/$2.dump"; }
dump fixtures/vmailmgr/basic/passwd.cdb vmailmgr-basic
dump fixtures/vmailmgr/legacy/passwd.cdb vmailmgr-legacy
dump fixtures/latin1/passwd.cdb latin1
dump "$in/edited/add-set.cdb" edited-add-set
# The large table's dump is 1 MB: only its SHA-256 is kept.
cdb -d fixtures/vmailmgr/large/passwd.cdb | sha256sum | sed 's/ .*//' > "$out/dumps/vmailmgr-large.dump.sha256"

# tinycdb's look-ups (`cdb -q`, standard cdb hash): the exit status, 0 found, 100 not found.
# A non-ASCII key written with vmailmgr's signed-char hash is where the standard hash does not look.
lookup() {
  status=0
  cdb -q "$1" "$2" > /dev/null || status=$?
  printf '%s\t%s\t%s\n' "$1" "$2" "$status"
}
{
  lookup fixtures/vmailmgr/basic/passwd.cdb jörg
  lookup fixtures/vmailmgr/basic/passwd.cdb alice
  lookup "$in/edited/jorg.cdb" jörg
} > "$out/lookups.tsv"
