#!/usr/bin/env bash
# Runs a command inside the cached Debian bullseye root filesystem (glibc 2.31, older than
# Amazon Linux 2023's 2.34 and with no system CA certificates), roughly the way Lambda
# starts a custom runtime: the package unpacked in /var/task (read-only), cwd /var/task,
# a Lambda-like environment, an unprivileged user. docs/lambda-packaging.md.
#
#   tests/lambda/run-in-bullseye.sh [options] BIN_OR_ZIP -- CMD [ARG...]
#
#   BIN_OR_ZIP   a Lambda zip (unpacked into /var/task) or an executable (copied there)
#   CMD          runs in the chroot, e.g. /var/task/bootstrap or ./stratus version
#   --file PATH  copy a file or directory into /tmp/stratus-test/ inside (repeatable)
#   --env K=V    set a variable (repeatable). Also passed through from the caller:
#                AWS_*, STRATUS_*, LAMBDA_*, _HANDLER, SSL_CERT_FILE, SSL_CERT_DIR
#   --arch A     x86_64 (default) or arm64 (needs qemu-user-static on an x86_64 host)
#   --root       run as root instead of nobody (65534; foreign-arch runs are always root)
#   --no-proc    do not mount /proc (and no private mount namespace at all)
#
# The chroot shares the host's network namespace: services on the host's 127.0.0.1 are
# reachable, and "localhost" resolves through the rootfs's /etc/hosts. Needs root. This
# script exec()s the command, so its PID is the command's PID (kill it by that PID).
# Runs of one rootfs are serialised (they share /var/task): a second run waits for the
# first to exit.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "${here}/../.." && pwd)
# shellcheck source=scripts/lib/bullseye-rootfs.sh
source "${repo}/scripts/lib/bullseye-rootfs.sh"

arch=x86_64
files=()
extra_env=()
as_root=0
with_proc=1
while [ $# -gt 0 ]; do
  case "$1" in
    --file) files+=("${2:?--file needs a path}"); shift 2 ;;
    --env) extra_env+=("${2:?--env needs K=V}"); shift 2 ;;
    --arch) arch=${2:?--arch needs a value}; shift 2 ;;
    --root) as_root=1; shift ;;
    --no-proc) with_proc=0; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; exit 0 ;;
    --) echo "run-in-bullseye: BIN_OR_ZIP is missing" >&2; exit 2 ;;
    -*) echo "run-in-bullseye: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
[ $# -ge 3 ] && [ "$2" = "--" ] || {
  echo "usage: $0 [options] BIN_OR_ZIP -- CMD [ARG...]" >&2
  exit 2
}
package=$1
shift 2
[ -f "${package}" ] || { echo "run-in-bullseye: no such file: ${package}" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || { echo "run-in-bullseye: needs root (chroot)" >&2; exit 2; }

rootfs=$(bullseye_rootfs_ensure "${arch}")
if [ "${arch}" = arm64 ] && [ "$(bullseye_host_arch)" != arm64 ] && [ ! -e "${rootfs}/usr/bin/qemu-aarch64-static" ]; then
  [ -x /usr/bin/qemu-aarch64-static ] || {
    echo "run-in-bullseye: arm64 on $(uname -m) needs qemu-user-static (apt-get install qemu-user-static)" >&2
    exit 2
  }
fi

# One run at a time per rootfs; the lock (fd 9) is held by the command until it exits.
exec 9>"${rootfs}.run.lock"
flock -w 120 9 || { echo "run-in-bullseye: ${rootfs} is busy (another run holds ${rootfs}.run.lock)" >&2; exit 1; }

# /var/task: fresh each run
task="${rootfs}/var/task"
rm -rf --one-file-system "${task}"
mkdir -p "${task}"
case "${package}" in
  *.zip) unzip -q -o "${package}" -d "${task}" ;;
  *) install -m 0755 "${package}" "${task}/$(basename "${package}")" ;;
esac
chmod -R a+rX "${task}"

# /tmp/stratus-test: fresh each run
test_dir="${rootfs}/tmp/stratus-test"
rm -rf --one-file-system "${test_dir}"
mkdir -p "${test_dir}"
for f in "${files[@]}"; do
  cp -R -- "${f}" "${test_dir}/"
done
chmod -R a+rwX "${test_dir}"
chmod 1777 "${rootfs}/tmp"

# The environment Lambda gives a provided.al2023 runtime (docs: configuration-envvars).
env_list=(
  "PATH=/usr/local/bin:/usr/bin/:/bin:/opt/bin"
  "LANG=en_US.UTF-8"
  "TZ=UTC"
  "LAMBDA_TASK_ROOT=/var/task"
  "LAMBDA_RUNTIME_DIR=/var/runtime"
  "LD_LIBRARY_PATH=/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"
)
while IFS= read -r -d '' kv; do
  case "${kv%%=*}" in
    AWS_* | STRATUS_* | LAMBDA_* | _HANDLER | SSL_CERT_FILE | SSL_CERT_DIR) env_list+=("${kv}") ;;
  esac
done < <(env -0)
env_list+=("${extra_env[@]}")

user=(--userspec=65534:65534 --groups=65534)
[ "${as_root}" -eq 0 ] || user=()
if [ "${arch}" = "$(bullseye_host_arch)" ]; then
  inner=(chroot "${user[@]}" "${rootfs}" /usr/bin/env -i -C /var/task "${env_list[@]}" "$@")
else
  # Foreign binaries run under qemu-user explicitly (no binfmt_misc registration on the
  # host). The rootfs's own tools are foreign too, so the host sets the environment and
  # the working directory (unshare --root/--wd), and the command runs as root.
  qemu=/usr/bin/qemu-aarch64-static
  cmp -s "${qemu}" "${rootfs}${qemu}" || install -m 0755 "${qemu}" "${rootfs}${qemu}"
  inner=(env -i "${env_list[@]}" unshare --root="${rootfs}" --wd=/var/task "${qemu}" "$@")
fi

if [ "${with_proc}" -eq 0 ]; then
  exec "${inner[@]}"
fi
# A private mount namespace: /proc and the read-only /var/task vanish with the process.
exec unshare --mount --propagation private -- /bin/sh -c '
  root=$1; shift
  mount -t proc proc "$root/proc" &&
  mount --bind "$root/var/task" "$root/var/task" &&
  mount -o remount,bind,ro "$root/var/task" "$root/var/task" || exit 125
  exec "$@"' run-in-bullseye "${rootfs}" "${inner[@]}"
