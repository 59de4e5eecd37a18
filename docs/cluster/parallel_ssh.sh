#!/usr/bin/env bash
# Grade one assignment on several machines with GNU parallel over SSH.
#
#   docs/cluster/parallel_ssh.sh ASSIGNMENT hosts.txt [JOBS_PER_HOST]
#
# hosts.txt lists one SSH host per line. Every host must have the course folder at the
# same path as here (a shared NFS folder, or rsync it first: see SYNC below), the
# course's .venv (make install), bubblewrap, and CNN_COURSE_DATA set in its environment
# or the data at ../shared/data. Each host grades shard K/N without touching the
# gradebook; this machine then merges all results into gradebook.db.
set -euo pipefail

ASSIGNMENT=${1:?usage: parallel_ssh.sh ASSIGNMENT hosts.txt [JOBS_PER_HOST]}
HOSTS=${2:?usage: parallel_ssh.sh ASSIGNMENT hosts.txt [JOBS_PER_HOST]}
JOBS=${3:-$(( $(nproc) - 1 ))}
COURSE=$(cd "$(dirname "$0")/../.." && pwd)
N=$(grep -cv '^\s*$' "$HOSTS")
SYNC=${SYNC:-0}   # SYNC=1: rsync the course to each host and the results back

if [ "$SYNC" = 1 ]; then
  parallel --will-cite -j0 --arg-file "$HOSTS" \
    rsync -a --delete --exclude .venv --exclude grading "$COURSE/" "{}:$COURSE/"
fi

# Host number K (1-based) grades shard K/N.
parallel --will-cite -j0 --line-buffer --tag --arg-file "$HOSTS" \
  ssh {} "cd '$COURSE' && .venv/bin/python -m grader autograde '$ASSIGNMENT' \
    --shard {#}/$N --no-gradebook --jobs $JOBS --quiet"

if [ "$SYNC" = 1 ]; then
  parallel --will-cite -j0 --arg-file "$HOSTS" \
    rsync -a "{}:$COURSE/grading/" "$COURSE/grading/" \; \
    rsync -a "{}:$COURSE/autograded/" "$COURSE/autograded/"
fi

cd "$COURSE"
.venv/bin/python -m grader merge
.venv/bin/python -m grader status
