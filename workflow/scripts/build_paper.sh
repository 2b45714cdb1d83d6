#!/usr/bin/env bash
# Compile a LaTeX source with latexmk into a build folder next to it, then move the PDF to its
# target. SOURCE_DATE_EPOCH (the last commit's time, or a fixed date outside git) and
# FORCE_SOURCE_DATE make pdfTeX's dates, and so the PDF bytes, reproducible.
set -euo pipefail
source=$1
target=$2
dir=$(dirname "$source")
name=$(basename "$source" .tex)
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 1767225600)}
export FORCE_SOURCE_DATE=1
latexmk -cd -pdf -interaction=nonstopmode -halt-on-error -outdir=build "$source"
tmp=$(mktemp "$target.XXXXXX.part")
cp "$dir/build/$name.pdf" "$tmp"
mv "$tmp" "$target"
