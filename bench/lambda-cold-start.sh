#!/usr/bin/env bash
# Cold start of the packaged Lambda function: exec of `bootstrap` -> its first
# GET /2018-06-01/runtime/invocation/next, as measured by the gateway's emulated
# Runtime API ("Init Duration" on its standard error), in two settings:
#   host    the zip's bootstrap unpacked in a temp dir, run by `stratus dev --lambda`
#   chroot  the same, inside the bullseye root filesystem (tests/lambda/run-in-bullseye.sh;
#           includes the chroot/unshare/mount set-up of the wrapper, so it is an upper bound)
# each warm (page cache kept) and cold (page cache dropped before each run; needs root).
#
#   bench/lambda-cold-start.sh [RUNS]      (default 15; prints a Markdown table)
# Needs: build/release/stratus, dist/stratus-lambda-x86_64.zip.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-15}
bin="${repo}/build/release/stratus"
zip="${repo}/dist/stratus-lambda-x86_64.zip"
[ -x "${bin}" ] || { echo "no ${bin}: cmake --build --preset release" >&2; exit 2; }
[ -f "${zip}" ] || { echo "no ${zip}: scripts/package-lambda" >&2; exit 2; }
tmp=$(mktemp -d /tmp/stratus-cold-start.XXXXXX)
trap 'rm -rf "${tmp}"' EXIT
mkdir -p "${tmp}/host" "${tmp}/chroot"
unzip -q "${zip}" -d "${tmp}/host"
cat >"${tmp}/chroot/bootstrap" <<WRAP
#!/bin/sh
PATH=/usr/sbin:/usr/bin:/sbin:/bin; export PATH
exec "${repo}/tests/lambda/run-in-bullseye.sh" --env LAMBDA_TASK_ROOT=/var/task "${zip}" -- /var/task/bootstrap
WRAP
chmod 755 "${tmp}/chroot/bootstrap"
# The function is configured as in production (Cognito, DynamoDB): its init opens no
# connection (keys and sockets come with the first invocation), as on Lambda.

measure() { # measure DIR COLD -> one init duration in ms
  local dir=$1 cold=$2 data log pid ms=""
  data=$(mktemp -d "${tmp}/data.XXXXXX")
  log="${data}/stderr"
  if [ "${cold}" = 1 ]; then sync; echo 3 >/proc/sys/vm/drop_caches; fi
  "${bin}" dev --host 127.0.0.1 --port 0 --data-dir "${data}" --web-root "${data}" --lambda "${dir}" \
    --lambda-concurrency 1 --lambda-env STRATUS_AUTH=cognito --lambda-env STRATUS_SQLITE_PATH= \
    --lambda-env STRATUS_COGNITO_USER_POOL_ID=us-east-1_ColdStart --lambda-env STRATUS_COGNITO_CLIENT_ID=bench \
    --lambda-env STRATUS_CONNECTIONS_TABLE=bench-Connections --lambda-env STRATUS_MESSAGES_TABLE=bench-Messages \
    --lambda-env STRATUS_DYNAMODB_ENDPOINT=http://127.0.0.1:9 >/dev/null 2>"${log}" &
  pid=$!
  for _ in $(seq 1 200); do
    ms=$(sed -n 's/.*Init Duration: \([0-9.]*\) ms.*/\1/p' "${log}" | head -1)
    [ -n "${ms}" ] && break
    sleep 0.05
  done
  kill "${pid}" 2>/dev/null || true
  wait "${pid}" 2>/dev/null || true
  echo "${ms:-NaN}"
}

median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) {print "NaN"} else if (NR%2) {print a[(NR+1)/2]} else {printf "%.2f\n", (a[NR/2]+a[NR/2+1])/2}}'; }

echo "| where | warm: median (min–max) of ${runs} | cold (page cache dropped): median (min–max) of ${runs} |"
echo "|---|---|---|"
for where in host chroot; do
  row="| ${where} |"
  for cold in 0 1; do
    values=$(for _ in $(seq 1 "${runs}"); do measure "${tmp}/${where}" "${cold}"; done)
    m=$(echo "${values}" | median)
    lo=$(echo "${values}" | sort -n | head -1)
    hi=$(echo "${values}" | sort -n | tail -1)
    row="${row} ${m} ms (${lo}–${hi}) |"
  done
  echo "${row}"
done
