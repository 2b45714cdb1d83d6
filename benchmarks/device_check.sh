#!/usr/bin/env bash
# The GPU check, for a machine with a CUDA GPU and torch/numpy/pandas/seaborn/scipy/pytest
# installed (the package itself is used from src/): the CUDA tests, the throughput benchmark on
# the GPU (and, for a same-machine baseline, a quick one on its CPU with 1 thread), and whole
# training jobs on each. Everything is written to OUTDIR (default benchmarks/out).
#
#     bash benchmarks/device_check.sh [OUTDIR]
set -uo pipefail  # a failing step is logged and the next one still runs
out=${1:-benchmarks/out}
mkdir -p "$out"
log="$out/device_check.log"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  lscpu | grep -E 'Model name|^CPU\(s\)'
  python3 -c "import torch, numpy; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'numpy', numpy.__version__)"
  step() { echo "== $*"; "$@" || echo "== FAILED ($?): $*"; }
  step python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_fastpath.py
  step python3 benchmarks/throughput.py --device cuda --rounds 3 --out "$out"
  step python3 benchmarks/experiment_times.py --device cuda week4 overshading annealing_n5 \
    --out "$out"
  step python3 benchmarks/experiment_times.py --device cpu week4 overshading annealing_n5 \
    --out "$out"
  step python3 benchmarks/throughput.py --device cpu --quick --out "$out"
} 2>&1 | tee "$log"
