#!/usr/bin/env bash
# Studio's artifact walkthrough with studio-lite: train.py captures its weights, print_norm.py reuses them from that
# experiment, then the experiment is shown and pulled. Run from anywhere after `npm install && npm run build`
# (or `npm run example` at the repo root). Artifacts go to $STUDIOML_HOME, default ~/.studioml.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

# The workspace-linked bin, i.e. what `npx studio-lite` runs in the repo; called by path so npx never reaches for
# the npm registry when the CLI is not built yet. STUDIO_LITE_BIN overrides it (e.g. an installed copy).
bin="${STUDIO_LITE_BIN:-$root/node_modules/.bin/studio-lite}"
if [[ ! -e "$bin" ]]; then
  echo "studio-lite is not built: run 'npm install && npm run build' in $root" >&2
  exit 1
fi
studio_lite() { "$bin" "$@"; }

# A fresh working directory, so ./weights and the captured workspace hold only this example.
work="$(mktemp -d "${TMPDIR:-/tmp}/studio-lite-lr.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cp "$here/train.py" "$here/print_norm.py" "$work/"
cd "$work"

exp="lr-$(od -An -N4 -tx4 /dev/urandom | tr -d ' \n')"

mkdir -p weights  # a capture path must exist: studio-lite refuses a typo instead of capturing nothing
echo "== studio-lite run --capture=./weights:weights -e $exp train.py"
studio_lite run --capture=./weights:weights -e "$exp" train.py | tee train.out

echo "== studio-lite run --reuse=$exp/weights:w print_norm.py"
studio_lite run --reuse="$exp/weights:w" print_norm.py | tee print_norm.out

# The norm of the reused last weights must be the one train.py printed at its last step.
trained="$(grep -o 'L2 norm = .*' train.out | tail -n 1)"
reused="$(grep -o 'L2 norm = .*' print_norm.out | tail -n 1)"
if [[ -z "$trained" || "$trained" != "$reused" ]]; then
  echo "FAIL: train.py ended with '$trained' but print_norm.py printed '$reused'" >&2
  exit 1
fi
echo "OK: reused weights give the same $reused"

echo "== studio-lite show $exp"
studio_lite show "$exp"

echo "== studio-lite pull $exp/weights -o <temp>"
studio_lite pull "$exp/weights" -o "$work/pulled"
count="$(find "$work/pulled" -name '*.pck' | wc -l | tr -d ' ')"
if [[ "$count" -ne 10 ]]; then
  echo "FAIL: pulled $count weight files, expected 10" >&2
  exit 1
fi
echo "OK: pulled all 10 weight files"

home="${STUDIOML_HOME:-$HOME/.studioml}"
echo
echo "Experiment $exp and its artifacts are stored under $home"
echo "(metadata and content-addressed blobs; 'studio-lite pull $exp/weights -o DIR' fetches the weights again)."
