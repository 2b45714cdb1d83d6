#!/usr/bin/env bash
# The same DAG on a real (single-node) SLURM cluster and on one machine: identical result tables.
#
#   bash .ci/slurm_test.sh        # as root, Debian 12; 5-10 min on 2 CPUs (see the PASS line)
#
# 1. installs SLURM from Debian (slurmctld, slurmd, slurm-client, munge; no slurmdbd/MariaDB, see
#    below) and snakemake-executor-plugin-slurm from PyPI, unless already installed (the Python
#    environment itself is the one .ci/run sets up);
# 2. checks that a missing `sbatch` is a clear error (profiles/slurm checks it when it loads);
# 3. starts munged (own socket), slurmctld and slurmd on loopback: node "localhost", no cgroups,
#    no accounting; waits until the node is idle;
# 4. in two scratch copies of the workflow runs tests/data/tiny_config.yaml with runs_per_job=4
#    (training split into several SLURM jobs): locally (snakemake --cores 2) and on SLURM
#    (snakemake --profile profiles/slurm, i.e. executor slurm), side by side. It scancels one
#    running training job: Snakemake must report it and leave none of its outputs, and the rerun
#    must resume (train only the missing block, leave finished tables untouched);
# 5. compares every result table (results/**/*.csv except results/benchmarks) byte for byte and
#    lists the SLURM jobs that ran;
# 6. stops slurmctld and checks that submitting then fails with a clear error;
# and always stops the daemons it started (trap EXIT). Exit status 0 only if all of this holds.
#
# Job status without accounting: the plugin's default status command is `sacct`, which needs
# slurmdbd; it also supports `squeue` (--slurm-status-command squeue), reliable when finished jobs
# stay visible long enough (MinJobAge >= 3 x the first status-check delay). This cluster keeps them
# an hour (MinJobAge=3600) and writes a job-completion log (jobcomp/filetxt): no slurmdbd/MariaDB.
#
# Environment:
#   SLURM_TEST_SCOPE   train (default): every experiment's training blocks, merge and analysis;
#                      all: the whole DAG with figures and report (about twice as long)
#   SLURM_TEST_CONFIG  config to run (default tests/data/tiny_config.yaml; runs_per_job overridden)
#   RUNS_PER_JOB (4), SLURM_TEST_CPUS (nproc), LOCAL_CORES (2), RUN_TIMEOUT (1800 s per run),
#   SLURM_TEST_DIR (/tmp/diffauction-slurm-test), KEEP=1 keeps the scratch copies.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN_DIR=${SLURM_TEST_DIR:-/tmp/diffauction-slurm-test}
RUNS_PER_JOB=${RUNS_PER_JOB:-4}
BASE_CONFIG=$(realpath "${SLURM_TEST_CONFIG:-$REPO/tests/data/tiny_config.yaml}")
LOCAL_CORES=${LOCAL_CORES:-2}
RUN_TIMEOUT=${RUN_TIMEOUT:-1800}  # seconds per Snakemake run
PLUGIN="snakemake-executor-plugin-slurm==2.8.0"
MARKER="# diffauction-slurm-test: written by .ci/slurm_test.sh, removed when it exits"
export DEBIAN_FRONTEND=noninteractive PIP_DISABLE_PIP_VERSION_CHECK=1

start=$SECONDS
stamp() { echo "[slurm-test +$(( SECONDS - start ))s] $*"; }
fail() { echo "[slurm-test] FAIL: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || fail "run as root (it installs Debian packages and starts SLURM daemons)"

# ---------------------------------------------------------------- 1. packages
stamp "packages"
missing=()
for cmd in slurmctld slurmd sbatch squeue scancel sinfo munged munge; do
  command -v "$cmd" >/dev/null || missing+=("$cmd")
done
if (( ${#missing[@]} )); then
  stamp "installing SLURM from Debian (missing: ${missing[*]})"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
fi
dpkg-query -W -f '${Package} ${Version}\n' slurmctld slurmd slurm-client munge
if ! python -c "import diffauction, snakemake" 2>/dev/null; then
  stamp "installing the package (torch 2.13.0 CPU first, as .ci/run)"
  python -m pip install -q torch==2.13.0
fi
torch_version=$(python -c "import torch; print(torch.__version__)")
python -c "import diffauction" 2>/dev/null ||
  python -m pip install -q -c <(echo "torch==${torch_version}") -e "${REPO}[test]"
if ! python -c "import snakemake_executor_plugin_slurm" 2>/dev/null; then
  stamp "installing $PLUGIN"
  python -m pip install -q -c <(echo "torch==${torch_version}") "$PLUGIN"
fi
python - <<'EOF'
from importlib.metadata import version
print("snakemake", version("snakemake"), "| executor plugin slurm",
      version("snakemake-executor-plugin-slurm"), "| jobstep",
      version("snakemake-executor-plugin-slurm-jobstep"), "| torch", version("torch"))
EOF
[[ $(python -c "import torch; print(torch.__version__)") == "$torch_version" ]] ||
  fail "pip replaced torch"

# ---------------------------------------------------------------- scratch, daemons, cleanup
declare -A PIDS=()
WROTE_CONF=0
BG_PIDS=()
stop_pid() {  # stop_pid PID NAME: TERM, wait up to 10 s, then KILL
  local pid=$1 name=$2 _
  kill -0 "$pid" 2>/dev/null || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
  echo "[slurm-test] $name ($pid) ignored TERM; KILL" >&2
  kill -9 "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  set +e
  for pid in "${BG_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null && { kill "$pid"; wait "$pid" 2>/dev/null; }
  done
  if [[ -n ${PIDS[slurmctld]:-} ]] && kill -0 "${PIDS[slurmctld]}" 2>/dev/null; then
    scancel --user=root 2>/dev/null   # our own test cluster: nothing else runs on it
    sleep 1
  fi
  for name in slurmd slurmctld munged; do
    [[ -n ${PIDS[$name]:-} ]] && stop_pid "${PIDS[$name]}" "$name"
  done
  if (( WROTE_CONF )) && head -1 /etc/slurm/slurm.conf 2>/dev/null | grep -qF "$MARKER"; then
    rm -f /etc/slurm/slurm.conf
  fi
  [[ ${KEEP:-0} == 1 ]] || { [[ $rc -eq 0 ]] && rm -rf "$RUN_DIR/local" "$RUN_DIR/slurm"; }
  echo "[slurm-test] daemons stopped; total $(( SECONDS - start )) s; exit status $rc"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Daemons left by an earlier run of this script that was killed before its trap ran.
for name in slurmd slurmctld munged; do
  pidfile="$RUN_DIR/pids/$name"
  if [[ -s $pidfile ]] && [[ $(ps -o comm= -p "$(cat "$pidfile")" 2>/dev/null) == "$name"* ]]; then
    echo "stopping $name left by an earlier run (pid $(cat "$pidfile"))"
    stop_pid "$(cat "$pidfile")" "$name"
  fi
done
rm -rf "$RUN_DIR"
mkdir -p "$RUN_DIR"/{state,spool,log,pids,munge}

# ---------------------------------------------------------------- 2. missing sbatch
stamp "bad input: sbatch not on PATH"
NOSLURM="$RUN_DIR/noslurm-bin"   # everything on PATH except the SLURM commands
mkdir -p "$NOSLURM"
declare -A is_slurm=()
for f in $(dpkg -L slurm-client slurmctld slurmd 2>/dev/null | grep -E '/s?bin/'); do is_slurm[$f]=1; done
PYBIN=$(python -c "import os, sys; print(os.path.dirname(sys.executable))")
for f in "$PYBIN"/* /usr/local/bin/* /usr/bin/* /usr/sbin/*; do
  [[ -e $NOSLURM/${f##*/} || -n ${is_slurm[$f]:-} ]] || ln -s "$f" "$NOSLURM/${f##*/}"
done
[[ ! -e $NOSLURM/sbatch ]] || fail "could not hide sbatch"
( cd "$REPO" && env PATH="$NOSLURM" snakemake --profile profiles/slurm -n ) \
  >"$RUN_DIR/log/nosbatch.log" 2>&1 && fail "the SLURM profile ran without sbatch"
grep -q "sbatch\`, which is not on PATH" "$RUN_DIR/log/nosbatch.log" ||
  { cat "$RUN_DIR/log/nosbatch.log"; fail "no clear error for a missing sbatch"; }
sed 's/^/    /' "$RUN_DIR/log/nosbatch.log" | grep -v "^    Using profiles"

# ---------------------------------------------------------------- 3. cluster
stamp "starting munged, slurmctld, slurmd"
if [[ -e /etc/slurm/slurm.conf ]] && ! head -1 /etc/slurm/slurm.conf | grep -qF "$MARKER"; then
  fail "/etc/slurm/slurm.conf exists and was not written by this script: this machine has its own
  SLURM; run the test on a CI machine or container"
fi
# The nested `srun` of the jobstep plugin drops SLURM_CONF (it clears all SLURM_* variables), so
# the configuration must sit at the default path.
if [[ ! -s /etc/munge/munge.key ]]; then
  setpriv --reuid=munge --regid=munge --clear-groups mungekey --create --keyfile=/etc/munge/munge.key
fi
chown munge:munge "$RUN_DIR/munge"
chmod 755 "$RUN_DIR/munge"
setpriv --reuid=munge --regid=munge --clear-groups munged --foreground \
  --socket="$RUN_DIR/munge/munge.socket" --pid-file="$RUN_DIR/munge/munged.pid" \
  --log-file="$RUN_DIR/munge/munged.log" --seed-file="$RUN_DIR/munge/munged.seed" \
  >"$RUN_DIR/log/munged.out" 2>&1 &
PIDS[munged]=$!
echo "${PIDS[munged]}" >"$RUN_DIR/pids/munged"
for _ in $(seq 50); do [[ -S $RUN_DIR/munge/munge.socket ]] && break; sleep 0.1; done
munge -S "$RUN_DIR/munge/munge.socket" -n | unmunge -S "$RUN_DIR/munge/munge.socket" >/dev/null ||
  { cat "$RUN_DIR/log/munged.out"; fail "munged does not answer"; }

cpus=${SLURM_TEST_CPUS:-$(nproc)}
mem_mb=$(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo)
(( mem_mb < 8192 )) && mem_mb=8192  # memory is not enforced here (no cgroups); let 4 GB requests in
mkdir -p /etc/slurm
cat >/etc/slurm/slurm.conf <<EOF
$MARKER
ClusterName=diffauction-ci
SlurmctldHost=localhost
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket=$RUN_DIR/munge/munge.socket
StateSaveLocation=$RUN_DIR/state
SlurmdSpoolDir=$RUN_DIR/spool
SlurmctldPidFile=$RUN_DIR/slurmctld.pid
SlurmdPidFile=$RUN_DIR/slurmd.pid
SlurmctldLogFile=$RUN_DIR/log/slurmctld.log
SlurmdLogFile=$RUN_DIR/log/slurmd.log
SlurmdParameters=config_overrides
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$RUN_DIR/jobcomp.log
MpiDefault=none
ReturnToService=2
MinJobAge=3600
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
WROTE_CONF=1
slurmctld -D -i >"$RUN_DIR/log/slurmctld.out" 2>&1 &
PIDS[slurmctld]=$!
echo "${PIDS[slurmctld]}" >"$RUN_DIR/pids/slurmctld"
slurmd -D -N localhost >"$RUN_DIR/log/slurmd.out" 2>&1 &
PIDS[slurmd]=$!
echo "${PIDS[slurmd]}" >"$RUN_DIR/pids/slurmd"
for _ in $(seq 120); do
  [[ $(sinfo -h -n localhost -o %T 2>/dev/null) == idle ]] && break
  sleep 0.5
done
sinfo
[[ $(sinfo -h -n localhost -o %T) == idle ]] ||
  { tail -20 "$RUN_DIR"/log/*.out; fail "the SLURM node did not become idle"; }

# ---------------------------------------------------------------- 4. local and SLURM runs
stamp "scratch copies with ${BASE_CONFIG#"$REPO/"}, runs_per_job=$RUNS_PER_JOB"
python - "$REPO" "$RUN_DIR" "$RUNS_PER_JOB" "$BASE_CONFIG" <<'EOF'
import sys
from pathlib import Path

import yaml

repo, run_dir, size = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
sys.path.insert(0, str(repo / "tests"))
from workflow_utils import workflow_copy  # noqa: E402

config = yaml.safe_load(Path(sys.argv[4]).read_text())
config["runs_per_job"] = size
(run_dir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
for name in ["local", "slurm"]:
    workflow_copy(run_dir / name, run_dir / "config.yaml")
EOF
case ${SLURM_TEST_SCOPE:-train} in
  train)  # every experiment's training (split into blocks), merge and analysis
    mapfile -t TARGET < <(python -c "
import sys, yaml
for name in yaml.safe_load(open(sys.argv[1]))['experiments']:
    print(f'results/{name}/metrics.csv')" "$RUN_DIR/config.yaml") ;;
  all)    # the whole DAG: every table, figure and the report
    TARGET=()
    if ! command -v latexmk >/dev/null; then
      echo "latexmk not installed: the report PDF is left out (--omit-from paper)"
      TARGET=(--omit-from paper)
    fi ;;
  *) fail "SLURM_TEST_SCOPE must be train or all" ;;
esac
(cd "$RUN_DIR/slurm" && snakemake -n --profile profiles/slurm "${TARGET[@]}") \
  >"$RUN_DIR/log/dryrun.log" 2>&1 || { cat "$RUN_DIR/log/dryrun.log"; fail "dry run"; }
sed -n '/^Job stats/,/^$/p' "$RUN_DIR/log/dryrun.log" | head -40
n_train=$(awk '$1 == "train" {print $2; exit}' "$RUN_DIR/log/dryrun.log")
(( n_train > 1 )) || fail "training is not split into several jobs (train jobs: ${n_train:-0})"

# Both runs import the package from their own copy of src/ (when workflow_copy copies it), so an
# edit of the working tree during the test cannot make them differ.
pythonpath() {
  if [[ -d $RUN_DIR/$1/src/diffauction ]]; then echo "$RUN_DIR/$1/src${PYTHONPATH:+:$PYTHONPATH}"
  else echo "${PYTHONPATH:-}"; fi
}
stamp "local run (background, --cores $LOCAL_CORES)"
(cd "$RUN_DIR/local" && PYTHONPATH=$(pythonpath local) exec timeout "$RUN_TIMEOUT" \
  snakemake --cores "$LOCAL_CORES" "${TARGET[@]}") \
  >"$RUN_DIR/log/local.log" 2>&1 &
local_pid=$!
BG_PIDS+=("$local_pid")

SLURM_OPTS=(--profile profiles/slurm --slurm-status-command squeue
            --slurm-init-seconds-before-status-checks 2 --latency-wait 10)
# Run 1 without retries (the profile resubmits a failed job once) and with --keep-going, so the
# cancelled job is reported and everything that does not depend on it still runs.
stamp "SLURM run 1: snakemake ${SLURM_OPTS[*]} --retries 0 --keep-going TARGETS (one training job gets scancelled)"
(cd "$RUN_DIR/slurm" && PYTHONPATH=$(pythonpath slurm) exec timeout "$RUN_TIMEOUT" \
  snakemake "${SLURM_OPTS[@]}" --retries 0 --keep-going "${TARGET[@]}") \
  >"$RUN_DIR/log/slurm1.log" 2>&1 &
slurm_pid=$!
BG_PIDS+=("$slurm_pid")
victim="" victim_comment=""
while kill -0 "$slurm_pid" 2>/dev/null; do
  line=$(squeue -h -t RUNNING -o "%i %k" 2>/dev/null | awk '$2 ~ /^rule_train_wildcards_/ {print; exit}')
  if [[ -n $line ]]; then
    sleep 2  # let it get into training
    id=${line%% *}
    if [[ $(squeue -h -j "$id" -o %T 2>/dev/null) == RUNNING ]]; then
      scancel "$id"
      victim=$id victim_comment=${line#* }
      stamp "scancel $victim ($victim_comment) while it was running"
      break
    fi
  fi
  sleep 0.2
done
rc1=0; wait "$slurm_pid" || rc1=$?
stamp "SLURM run 1 exited with status $rc1"
[[ -n $victim ]] || fail "no running training job could be cancelled"
(( rc1 != 0 )) || fail "Snakemake did not report the cancelled job"
grep -A3 "Error in rule train" "$RUN_DIR/log/slurm1.log" | sed 's/^/    /' | head -8
grep -q "SLURM-job '$victim' failed, SLURM status is: 'CANCELLED'" "$RUN_DIR/log/slurm1.log" ||
  fail "the log does not name the cancelled SLURM job $victim"
wildcards=${victim_comment#rule_train_wildcards_}  # <experiment>_<block>
block_dir="$RUN_DIR/slurm/results/${wildcards%_*}/blocks/${wildcards##*_}"
for f in trajectory.csv runs.csv; do
  [[ ! -e $block_dir/$f ]] || fail "the cancelled job left $block_dir/$f"
done
echo "    no outputs of the cancelled job: $block_dir/{trajectory,runs}.csv absent"
stray=$(find "$RUN_DIR/slurm/results" -name '.*.part*' 2>/dev/null || true)
[[ -z $stray ]] || printf '    temporary file left by the killed job (never taken for an output):\n%s\n' "$stray"

# What run 1 finished must not run again.
(cd "$RUN_DIR/slurm" && find results -path results/benchmarks -prune -o -type f -name '*.csv' \
  -printf '%p %T@\n' | sort) >"$RUN_DIR/log/after_run1.txt"
missing_blocks=$(python - "$RUN_DIR/slurm" <<'EOF'
import sys
from pathlib import Path
root = Path(sys.argv[1])
dry = (root.parent / "log" / "dryrun.log").read_text()
blocks = {line.split(": ", 1)[1] for line in dry.splitlines()
          if line.strip().startswith("output: results/") and "/blocks/" in line}
print(sum(not (root / b.split(",")[0]).exists() for b in blocks))
EOF
)
stamp "SLURM run 2 (resume): snakemake ${SLURM_OPTS[*]} TARGETS"
rc2=0
(cd "$RUN_DIR/slurm" && PYTHONPATH=$(pythonpath slurm) timeout "$RUN_TIMEOUT" \
  snakemake "${SLURM_OPTS[@]}" "${TARGET[@]}") \
  >"$RUN_DIR/log/slurm2.log" 2>&1 || rc2=$?
(( rc2 == 0 )) || { tail -40 "$RUN_DIR/log/slurm2.log"; fail "SLURM run 2 failed ($rc2)"; }
retrained=$(grep -c "^rule train:" "$RUN_DIR/log/slurm2.log" || true)
echo "    run 2 trained $retrained block(s); $missing_blocks were missing after run 1"
(( retrained == missing_blocks )) || fail "run 2 retrained $retrained blocks, expected $missing_blocks"
(cd "$RUN_DIR/slurm" && find results -path results/benchmarks -prune -o -type f -name '*.csv' \
  -printf '%p %T@\n' | sort) >"$RUN_DIR/log/after_run2.txt"
rewritten=$(comm -23 "$RUN_DIR/log/after_run1.txt" "$RUN_DIR/log/after_run2.txt")
[[ -z $rewritten ]] || fail "run 2 rewrote tables that run 1 had finished: $rewritten"
echo "    every table finished in run 1 is untouched"

rcl=0; wait "$local_pid" || rcl=$?
stamp "local run exited with status $rcl"
(( rcl == 0 )) || { tail -40 "$RUN_DIR/log/local.log"; fail "local run failed"; }

# ---------------------------------------------------------------- 5. compare, job list
stamp "comparing result tables (results/**/*.csv without results/benchmarks)"
tables() { (cd "$1" && find results -path results/benchmarks -prune -o -type f -name '*.csv' \
  ! -name '.*' -print | sort); }
diff <(tables "$RUN_DIR/local") <(tables "$RUN_DIR/slurm") ||
  fail "the two runs produced different sets of tables"
n=0
while read -r table; do
  cmp -s "$RUN_DIR/local/$table" "$RUN_DIR/slurm/$table" || fail "$table differs"
  n=$((n + 1))
done < <(tables "$RUN_DIR/local")
(( n > 0 )) || fail "no tables"
echo "    $n tables identical, for example:"
(cd "$RUN_DIR/local" && sha256sum results/week4/runs.csv results/overshading/trajectory.csv |
  sed 's/^/    /')

stamp "jobs run by SLURM (squeue --states=all; sacct needs slurmdbd, which this cluster has not)"
squeue -h --states=all -o "%i|%T|%M|%N|%k" | sort -n -t'|' -k1 |
  awk -F'|' 'BEGIN {printf "    %6s  %-10s %8s  %-9s %s\n", "JOBID", "STATE", "TIME", "NODE", "RULE_WILDCARDS"}
             {printf "    %6s  %-10s %8s  %-9s %s\n", $1, $2, $3, $4, $5}'
squeue -h --states=all -o "%T" | sort | uniq -c | sed 's/^/    /'
echo "    job-completion log ($RUN_DIR/jobcomp.log): $(wc -l <"$RUN_DIR/jobcomp.log") records, e.g."
head -1 "$RUN_DIR/jobcomp.log" | sed 's/^/    /'
n_slurm_train=$(squeue -h --states=all -o "%T %k" | grep -c "^COMPLETED rule_train_wildcards_" || true)
(( n_slurm_train == n_train )) || fail "$n_slurm_train training jobs completed in SLURM, expected $n_train"

# ---------------------------------------------------------------- 6. dead controller
stamp "bad input: slurmctld stopped, then a job is submitted"
stop_pid "${PIDS[slurmctld]}" slurmctld
block="results/week4/blocks/0"
rm -f "$RUN_DIR/slurm/$block"/{trajectory,runs}.csv
rc3=0
(cd "$RUN_DIR/slurm" && PYTHONPATH=$(pythonpath slurm) timeout 300 \
  snakemake "${SLURM_OPTS[@]}" --retries 0 "$block/runs.csv") \
  >"$RUN_DIR/log/deadctld.log" 2>&1 || rc3=$?
(( rc3 != 0 )) || fail "Snakemake succeeded without a controller"
grep -q "Unable to contact slurm controller" "$RUN_DIR/log/deadctld.log" ||
  { tail -30 "$RUN_DIR/log/deadctld.log"; fail "no clear error without a controller"; }
grep -m1 "message: .*Unable to contact slurm controller" "$RUN_DIR/log/deadctld.log" | sed 's/^ */    /'
for f in trajectory.csv runs.csv; do
  [[ ! -e $RUN_DIR/slurm/$block/$f ]] || fail "$block/$f exists after a failed submission"
done

stamp "PASS: $n tables identical between SLURM ($n_train training jobs, runs_per_job=$RUNS_PER_JOB) and local"
