#!/usr/bin/env bash
# The arm64 static libraries the Lambda bootstrap links (OpenSSL, SQLite, Boost.System and
# Boost's CMake packages), for cross-building on an x86_64 host: Debian 12's arm64 .debs of
# exactly the host's versions, unpacked with dpkg-deb -x into a private directory. apt runs
# with its own state, cache and sources under that directory, so the host's dpkg
# architecture list and package database stay untouched (no `dpkg --add-architecture`).
#
# Source it and call lambda_arm64_deps_ensure (prints the directory, the toolchain's
# STRATUS_LAMBDA_DEPS_ROOT), or run it. Cache: ${STRATUS_CACHE_DIR:-~/.cache/stratus}/
# bookworm-arm64-deps, rebuilt when a host version changes.

LAMBDA_ARM64_DEPS_PACKAGES=(libssl-dev libsqlite3-dev libboost-system1.81-dev libboost1.81-dev)

lambda_arm64_deps_ensure() {
  local cache dir want apt_dir p v
  cache="${STRATUS_CACHE_DIR:-${HOME:-/root}/.cache/stratus}"
  dir="${cache}/bookworm-arm64-deps"
  # the host's (amd64) versions; the arm64 ones must match (headers are shared)
  want=""
  for p in "${LAMBDA_ARM64_DEPS_PACKAGES[@]}"; do
    v=$(dpkg-query -W -f='${Version}' "${p}" 2>/dev/null) || {
      echo "lambda-arm64-deps: ${p} is not installed on the host (scripts/setup.sh)" >&2
      return 1
    }
    want+="${p}=${v}"$'\n'
  done
  if [ -f "${dir}/.complete" ] && [ "$(cat "${dir}/.complete")" = "${want}" ]; then
    echo "${dir}"
    return 0
  fi
  mkdir -p "${cache}"
  (
    flock -w 600 9 || exit 1
    if [ -f "${dir}/.complete" ] && [ "$(cat "${dir}/.complete")" = "${want}" ]; then exit 0; fi
    local tmp="${dir}.tmp.$$"
    rm -rf "${tmp}"
    apt_dir="${tmp}/.apt"
    mkdir -p "${apt_dir}/lists/partial" "${apt_dir}/archives/partial" "${apt_dir}/debs"
    : >"${apt_dir}/status"
    # the host's mirrors (debian and debian-security), bookworm, arm64 only
    local uris suites
    uris=$(awk 'tolower($1) == "uris:" { print $2 }' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
    [ -n "${uris}" ] || uris=$'http://deb.debian.org/debian\nhttp://deb.debian.org/debian-security'
    while IFS= read -r u; do
      case "${u}" in
        *security*) suites="bookworm-security" ;;
        *) suites="bookworm bookworm-updates" ;;
      esac
      for s in ${suites}; do
        echo "deb [arch=arm64 signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] ${u} ${s} main"
      done
    done <<<"${uris}" >"${apt_dir}/sources.list"
    local opts=(
      -o "Dir::Etc::SourceList=${apt_dir}/sources.list" -o "Dir::Etc::SourceParts=/nonexistent"
      -o "Dir::State::Lists=${apt_dir}/lists" -o "Dir::State::status=${apt_dir}/status"
      -o "Dir::Cache=${apt_dir}" -o "Dir::Cache::Archives=${apt_dir}/archives"
      -o "APT::Architecture=arm64" -o "APT::Architectures::=arm64" -o "Debug::NoLocking=1"
      -o "APT::Sandbox::User=root"
    )
    apt-get "${opts[@]}" -qq update >&2 || exit 1
    local specs=()
    while IFS= read -r line; do
      [ -n "${line}" ] && specs+=("${line%%=*}:arm64=${line#*=}")
    done <<<"${want}"
    (cd "${apt_dir}/debs" && apt-get "${opts[@]}" -qq download "${specs[@]}") >&2 || exit 1
    for deb in "${apt_dir}"/debs/*.deb; do
      dpkg-deb -x "${deb}" "${tmp}" || exit 1
    done
    rm -rf "${apt_dir}"
    [ -f "${tmp}/usr/lib/aarch64-linux-gnu/libssl.a" ] && [ -f "${tmp}/usr/lib/aarch64-linux-gnu/libsqlite3.a" ] &&
      [ -f "${tmp}/usr/lib/aarch64-linux-gnu/libboost_system.a" ] || {
      echo "lambda-arm64-deps: static libraries missing after unpacking" >&2
      exit 1
    }
    printf '%s' "${want}" >"${tmp}/.complete"
    rm -rf "${dir}.old.$$"
    [ -e "${dir}" ] && mv "${dir}" "${dir}.old.$$"
    mv "${tmp}" "${dir}" && rm -rf "${dir}.old.$$"
  ) 9>"${dir}.lock" || return 1
  echo "${dir}"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  lambda_arm64_deps_ensure
fi
