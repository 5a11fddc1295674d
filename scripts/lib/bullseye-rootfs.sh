#!/usr/bin/env bash
# A cached Debian bullseye (glibc 2.31) root filesystem. It is both
#   - the sysroot the Lambda `bootstrap` is compiled and linked against
#     (cmake/toolchains/bullseye-sysroot-*.cmake), so the binary needs no glibc
#     newer than 2.31 (Lambda's provided.al2023 has 2.34), and
#   - the root filesystem tests/lambda/run-in-bullseye.sh chroots into to run it.
# See docs/lambda-packaging.md.
#
# Use as a library (source it, call bullseye_rootfs_ensure ARCH; the path is
# printed) or run it: scripts/lib/bullseye-rootfs.sh [x86_64|arm64] [--path-only].
#
# Cache: ${STRATUS_CACHE_DIR:-$HOME/.cache/stratus}/bullseye-<arch>-rootfs, outside the
# repository so fresh clones on the same machine reuse it. It is built in a temporary
# directory and renamed into place only when complete; the marker file records
# BULLSEYE_ROOTFS_VERSION, and a rootfs without the current marker is rebuilt. Needs root
# (debootstrap, chroot). Mirror: $STRATUS_DEBIAN_MIRROR, else the host's apt sources,
# else http://deb.debian.org/debian.

# Bump when the recipe below changes: every cached rootfs is then rebuilt.
BULLSEYE_ROOTFS_VERSION=1
BULLSEYE_ROOTFS_MARKER=.stratus-rootfs-complete

bullseye_cache_dir() { printf '%s\n' "${STRATUS_CACHE_DIR:-${HOME:-/root}/.cache/stratus}"; }

# x86_64|arm64 -> "<debian arch> <multiarch triplet> <dynamic loader path in the rootfs>"
bullseye_arch_info() {
  case "$1" in
    x86_64 | amd64) echo "amd64 x86_64-linux-gnu lib64/ld-linux-x86-64.so.2" ;;
    arm64 | aarch64) echo "arm64 aarch64-linux-gnu lib/ld-linux-aarch64.so.1" ;;
    *)
      echo "bullseye-rootfs: unknown arch '$1' (x86_64 or arm64)" >&2
      return 1
      ;;
  esac
}

bullseye_host_arch() {
  case "$(uname -m)" in
    x86_64) echo x86_64 ;;
    aarch64) echo arm64 ;;
    *) uname -m ;;
  esac
}

bullseye_rootfs_path() {
  local arch
  arch=$(bullseye_normalise_arch "$1") || return 1
  printf '%s/bullseye-%s-rootfs\n' "$(bullseye_cache_dir)" "${arch}"
}

bullseye_normalise_arch() {
  case "$1" in
    x86_64 | amd64) echo x86_64 ;;
    arm64 | aarch64) echo arm64 ;;
    *)
      echo "bullseye-rootfs: unknown arch '$1' (x86_64 or arm64)" >&2
      return 1
      ;;
  esac
}

# The Debian mirror the host's apt uses (not the -security one).
bullseye_mirror() {
  if [ -n "${STRATUS_DEBIAN_MIRROR:-}" ]; then
    echo "${STRATUS_DEBIAN_MIRROR}"
    return
  fi
  local uri=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk 'tolower($1) == "uris:" { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
      /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "${uri}" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^(https?|file):/ && $i !~ /security/) { print $i; exit } }' \
      /etc/apt/sources.list)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

bullseye_rootfs_is_complete() {
  local dir=$1
  [ -f "${dir}/${BULLSEYE_ROOTFS_MARKER}" ] &&
    grep -qx "version=${BULLSEYE_ROOTFS_VERSION}" "${dir}/${BULLSEYE_ROOTFS_MARKER}"
}

# Removes a directory tree that may have been a debootstrap target, never crossing into
# mounted file systems (debootstrap mounts /proc and /sys inside while it works).
bullseye_remove_tree() {
  local dir=$1 m
  [ -n "${dir}" ] && [ -d "${dir}" ] || return 0
  dir=$(realpath "${dir}")
  case "${dir}" in
    / | /root | /home | /tmp | "$(bullseye_cache_dir)") return 1 ;;
  esac
  # unmount anything below it, deepest first
  while read -r m; do
    umount "${m}" 2>/dev/null || umount -l "${m}" 2>/dev/null || true
  done < <(awk -v d="${dir}/" 'index($2 "/", d) == 1 { print $2 }' /proc/mounts | sort -r)
  if awk -v d="${dir}/" 'index($2 "/", d) == 1 { found = 1 } END { exit !found }' /proc/mounts; then
    echo "bullseye-rootfs: refusing to delete ${dir}: something is still mounted below it" >&2
    return 1
  fi
  rm -rf --one-file-system "${dir}"
}

# Absolute symlinks in the library directories point at the HOST's files when the rootfs
# is used as a --sysroot (libpthread.so -> /lib/.../libpthread.so.0 would be the host's
# glibc 2.36 stub): make them relative. The same for the dynamic loader link that libc.so
# names (AS_NEEDED ( /lib64/ld-linux-x86-64.so.2 )).
bullseye_fix_symlinks() {
  local root=$1 triplet=$2 ld=$3 d l t
  for d in "${root}/usr/lib/${triplet}" "${root}/lib/${triplet}" "${root}/$(dirname "${ld}")"; do
    [ -d "${d}" ] || continue
    while IFS= read -r -d '' l; do
      t=$(readlink "${l}")
      case "${t}" in
        /*) ln -sfn "$(realpath -m --relative-to="$(dirname "${l}")" "${root}${t}")" "${l}" ;;
      esac
    done < <(find -H "${d}" -maxdepth 1 -type l -print0)
  done
  # every link in the library directories must now resolve inside the rootfs
  local broken=()
  while IFS= read -r -d '' l; do
    [ -e "${l}" ] || broken+=("${l}")
  done < <(find -H "${root}/usr/lib/${triplet}" -maxdepth 1 -type l -print0)
  [ -e "${root}/${ld}" ] || broken+=("${root}/${ld}")
  if [ ${#broken[@]} -gt 0 ]; then
    echo "bullseye-rootfs: dangling links after the fix: ${broken[*]}" >&2
    return 1
  fi
}

bullseye_rootfs_build() {
  local arch=$1 target=$2 debarch triplet ld mirror host_arch
  read -r debarch triplet ld < <(bullseye_arch_info "${arch}")
  mirror=$(bullseye_mirror)
  host_arch=$(bullseye_host_arch)
  command -v debootstrap >/dev/null || {
    echo "bullseye-rootfs: debootstrap is missing (apt-get install debootstrap; scripts/setup.sh)" >&2
    return 1
  }
  echo "bullseye-rootfs: debootstrap bullseye ${debarch} from ${mirror} into ${target}" >&2
  local foreign=()
  [ "${arch}" = "${host_arch}" ] || foreign=(--foreign)
  # libc6-dev (headers, crt*.o, libc.so/libc_nonshared.a, linux-libc-dev) makes it a
  # sysroot. --include resolves its dependencies; for a foreign architecture only the
  # first stage runs, which unpacks every package: enough for a sysroot (running it
  # needs qemu-user-static and `chroot ... /debootstrap/debootstrap --second-stage`).
  debootstrap --variant=minbase --arch="${debarch}" "${foreign[@]}" --include=libc6-dev \
    bullseye "${target}" "${mirror}" >&2 || return 1
  local libc_version
  libc_version=$(dpkg-query --admindir="${target}/var/lib/dpkg" -W -f='${Version}' libc6 2>/dev/null) ||
    libc_version=""
  if [ -z "${libc_version}" ]; then # foreign: not configured yet; take it from the .deb's name
    libc_version=$(find "${target}/var/cache/apt/archives" -name "libc6_*_${debarch}.deb" -printf '%f\n' |
      sed -n 's/^libc6_\(.*\)_[a-z0-9]*\.deb$/\1/p' | sed 's/%3a/:/' | head -1)
  fi
  if [ ${#foreign[@]} -gt 0 ]; then
    # The first stage unpacked only the "required" packages; unpack the rest (libc6-dev and
    # its dependencies) the same way, through the merged-/usr symlinks, without dpkg.
    local deb
    for deb in "${target}"/var/cache/apt/archives/*.deb; do
      dpkg-deb --fsys-tarfile "${deb}" |
        tar -C "${target}" --keep-directory-symlink --skip-old-files -xf - || return 1
    done
  fi
  [ -f "${target}/usr/lib/${triplet}/libc.so" ] && [ -f "${target}/usr/include/stdio.h" ] || {
    echo "bullseye-rootfs: libc6-dev is not in ${target}" >&2
    return 1
  }
  bullseye_fix_symlinks "${target}" "${triplet}" "${ld}" || return 1
  # minbase writes no /etc/hosts; glibc then sends "localhost" to DNS.
  printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"${target}/etc/hosts"
  # Lookups from tests stay on loopback (nothing answers there: names must be in /etc/hosts).
  rm -f "${target}/etc/resolv.conf"
  printf 'nameserver 127.0.0.1\n' >"${target}/etc/resolv.conf"
  # No ca-certificates on purpose: a TLS success inside proves our own CA handling.
  rm -rf "${target}/var/cache/apt/archives/"*.deb "${target}/var/lib/apt/lists/"*_Packages 2>/dev/null || true
  mkdir -p "${target}/var/task" "${target}/tmp"
  chmod 1777 "${target}/tmp"
  {
    echo "version=${BULLSEYE_ROOTFS_VERSION}"
    echo "arch=${arch}"
    echo "libc6=${libc_version:-unknown}"
    echo "mirror=${mirror}"
    echo "created=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  } >"${target}/${BULLSEYE_ROOTFS_MARKER}.tmp"
  mv "${target}/${BULLSEYE_ROOTFS_MARKER}.tmp" "${target}/${BULLSEYE_ROOTFS_MARKER}"
}

# bullseye_rootfs_ensure ARCH: prints the path of a complete rootfs, building it if needed.
bullseye_rootfs_ensure() {
  local arch dir cache
  arch=$(bullseye_normalise_arch "${1:-$(bullseye_host_arch)}") || return 1
  dir=$(bullseye_rootfs_path "${arch}") || return 1
  if bullseye_rootfs_is_complete "${dir}"; then
    echo "${dir}"
    return 0
  fi
  if [ "$(id -u)" -ne 0 ]; then
    echo "bullseye-rootfs: building ${dir} needs root (debootstrap)" >&2
    return 1
  fi
  cache=$(dirname "${dir}")
  mkdir -p "${cache}"
  # One builder at a time per arch; the others wait and then reuse its result.
  (
    flock -w 1800 9 || {
      echo "bullseye-rootfs: timed out waiting for ${dir}.lock" >&2
      exit 1
    }
    bullseye_rootfs_is_complete "${dir}" && exit 0
    local tmp="${dir}.tmp.$$" old="${dir}.old.$$" start=${SECONDS}
    bullseye_remove_tree "${tmp}" || exit 1
    if ! bullseye_rootfs_build "${arch}" "${tmp}"; then
      echo "bullseye-rootfs: build failed; removing ${tmp}" >&2
      bullseye_remove_tree "${tmp}"
      exit 1
    fi
    # stale or half-made: move it aside, put the new one in place, then delete the old one
    if [ -e "${dir}" ]; then mv "${dir}" "${old}" || exit 1; fi
    mv "${tmp}" "${dir}" || exit 1
    bullseye_remove_tree "${old}" || true
    echo "bullseye-rootfs: ready in $((SECONDS - start)) s: ${dir}" >&2
  ) 9>"${dir}.lock" || return 1
  bullseye_rootfs_is_complete "${dir}" || return 1
  echo "${dir}"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  if [ "${2:-}" = "--path-only" ]; then
    bullseye_rootfs_path "${1:-$(bullseye_host_arch)}"
  else
    bullseye_rootfs_ensure "${1:-$(bullseye_host_arch)}"
  fi
fi
