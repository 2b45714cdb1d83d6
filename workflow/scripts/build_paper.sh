#!/usr/bin/env bash
# Compile a LaTeX source with latexmk into a build folder next to it, then move the PDF to its
# target. SOURCE_DATE_EPOCH (the last commit's time, or a fixed date outside git) and
# FORCE_SOURCE_DATE make pdfTeX's dates, and so the PDF bytes, reproducible. Optional third and
# fourth arguments receive copies of the run's .aux (labels, pages) and .bbl (citations), which
# the HTML report's captions are made from.
set -euo pipefail
source=$1
target=$2
aux_target=${3:-}
bbl_target=${4:-}
dir=$(dirname "$source")
name=$(basename "$source" .tex)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 1767225600)}
export FORCE_SOURCE_DATE=1
latexmk -cd -pdf -interaction=nonstopmode -halt-on-error -outdir=build "$source"
publish() {  # copy $1 to $2 atomically
  mkdir -p "$(dirname "$2")"
  local tmp
  tmp=$(mktemp "$2.XXXXXX.part")
  cp "$1" "$tmp"
  chmod 0644 "$tmp"  # mktemp creates 0600; a finished output gets the usual mode
  mv "$tmp" "$2"
}
[ -z "$aux_target" ] || publish "$dir/build/$name.aux" "$aux_target"
[ -z "$bbl_target" ] || publish "$dir/build/$name.bbl" "$bbl_target"
publish "$dir/build/$name.pdf" "$target"
