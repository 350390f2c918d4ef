#!/bin/sh
# Rewrites protocol citations that name a note without its path (`wire.md §3`, `ipc.md §4–§6`)
# to `docs/protocol/wire.md §3` in the code and the docs outside docs/protocol/, so that every
# citation resolves inside the repository, then re-formats the files (a longer comment line can
# make `deno fmt` reflow a Markdown paragraph). Idempotent. Run from anywhere, after merging;
# then check with `deno test -A tests/docs_refs_test.ts`.
set -eu
cd "$(dirname "$0")/../.."
files=$(
  {
    find lib cli tests bench -name '*.ts' -type f
    ls main.ts mod.ts README.md docs/*.md
  } | grep -v -x -e 'tests/docs_refs_test.ts' | sort
)
# shellcheck disable=SC2086 # word splitting of $files is intended (paths have no blanks)
sed -E -i 's#(^|[^/a-z])(wire|transport|registry|ipc|services|cli)\.md §#\1docs/protocol/\2.md §#g' $files
# What the line above cannot see: a citation whose `§N` wrapped onto the next comment line, and a
# note named without a section, e.g. `(ipc.md)`.
# shellcheck disable=SC2086
sed -E -i 's#(^|[^/a-z_.-])(wire|transport|registry|ipc|services|cli)\.md([^a-z_-]|$)#\1docs/protocol/\2.md\3#g' $files
# shellcheck disable=SC2086
deno fmt --quiet $files
