#!/usr/bin/env bash
# Grade one assignment on several machines with GNU parallel over SSH.
#
#   docs/cluster/parallel_ssh.sh ASSIGNMENT hosts.txt [JOBS_PER_HOST]
#
# hosts.txt lists one SSH host per line. Every host must have the course folder at the
# same path as here (a shared NFS folder, or copied there: see SYNC below), the
# course's .venv (make install), bubblewrap, and CNN_COURSE_DATA set in its environment
# or the data at ../shared/data. Host K of N grades shard K/N without touching the
# gradebook; this machine then merges all results into gradebook.db and prints `status`.
#
# Settings (environment variables):
#   SYNC=1      copy the course to each host first, and each host's results and executed
#               notebooks back after (tar over SSH: the hosts need nothing but ssh and tar)
#   SSH=ssh     the remote shell, a command taking `HOST COMMAND` (the tests pass a
#               script running COMMAND in a local folder standing in for HOST)
#   COURSE=…    the course folder (default: the checkout holding this script)
#   PYTHON=…    the Python of the course on every host (default: .venv/bin/python)
#
# A host that fails leaves its shard unmerged and the script exits non-zero after the
# merge; rerun that host's shard (`autograde A --shard K/N --no-gradebook`) and `merge`.
set -euo pipefail

usage="usage: parallel_ssh.sh ASSIGNMENT hosts.txt [JOBS_PER_HOST]"
ASSIGNMENT=${1:?$usage}
HOSTS=${2:?$usage}
JOBS=${3:-$(($(nproc) - 1))}
COURSE=${COURSE:-$(cd "$(dirname "$0")/../.." && pwd)}
PYTHON=${PYTHON:-.venv/bin/python}
SSH=${SSH:-ssh}
SYNC=${SYNC:-0}
N=$(grep -cv '^\s*$' "$HOSTS")

# A host gets the course without its Python environment, the gradebook and the results
# of earlier runs; its submitted/ is replaced by the head's, which is the truth.
to_host() {
  tar -C "$COURSE" -cf - --exclude=./.venv --exclude='./gradebook.db*' \
    --exclude=./grading/results --exclude=./grading/runs . |
    $SSH "$1" "mkdir -p '$COURSE' && cd '$COURSE' && rm -rf submitted && tar -xf -"
}

# Results are one file per submission, so hosts never overwrite each other's; a result
# here that is newer than a host's (an older run there) is kept.
from_host() {
  $SSH "$1" "cd '$COURSE' && mkdir -p grading/results grading/runs autograded &&
    tar -cf - grading/results grading/runs autograded" |
    tar -C "$COURSE" --keep-newer-files -xf -
}
# parallel runs them in bash, whatever the login shell.
export -f to_host from_host
export COURSE SSH PARALLEL_SHELL=bash

if [ "$SYNC" = 1 ]; then
  parallel --will-cite -j0 --arg-file "$HOSTS" to_host {}
fi

# Host number K (1-based) grades shard K/N; a failed host does not stop the others.
# -q passes each word as it is: the remote command reaches ssh as one argument, so its
# `&&` runs on the host, not here.
status=0
parallel --will-cite -q -j0 --line-buffer --tag --arg-file "$HOSTS" \
  $SSH {} "cd '$COURSE' && '$PYTHON' -m grader autograde '$ASSIGNMENT' \
    --shard {#}/$N --no-gradebook --jobs $JOBS --quiet" || status=$?

if [ "$SYNC" = 1 ]; then
  parallel --will-cite -j0 --arg-file "$HOSTS" from_host {} || status=$?
fi

cd "$COURSE"
"$PYTHON" -m grader merge
"$PYTHON" -m grader status || true
exit "$status"
