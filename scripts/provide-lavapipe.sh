#!/usr/bin/env bash
# Provides Mesa's lavapipe (a software Vulkan device) for the WebGPU tests on a machine without a
# GPU, without changing the system: Debian's packages are downloaded with apt-get into a cache
# folder, unpacked there with dpkg-deb -x, and a Vulkan ICD file points at the unpacked driver.
#
#   eval "$(scripts/provide-lavapipe.sh)"     # exports VK_ICD_FILENAMES and LD_LIBRARY_PATH
#
# Prints the two export lines on stdout (progress goes to stderr). A second call finds the cache
# and downloads nothing.
#
# Why not the system's Mesa: Debian 12's Mesa 22.3 lavapipe lacks what Dawn requires
# ("shaderUniform*ArrayDynamicIndexing required"); Mesa 25 from bookworm-backports works.
# On Debian 12 the packages come from bookworm-backports, on later Debian releases from the
# release itself. apt-get resolves which packages the driver needs beyond what is installed (the
# Vulkan loader libvulkan1, a newer libdrm); only those are downloaded, and only this cache and
# the processes started with the exported variables see them.
#
# Environment:
#   FACELOSSES_LAVAPIPE_DIR  the cache folder (default: $XDG_CACHE_HOME or ~/.cache, /facelosses/lavapipe)
#   FACELOSSES_DEBIAN_MIRROR the Debian archive to download from (default: the one in the apt sources)
set -euo pipefail

die() {
  echo "provide-lavapipe: $*" >&2
  exit 1
}
say() { echo "provide-lavapipe: $*" >&2; }

dir="${FACELOSSES_LAVAPIPE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/facelosses/lavapipe}"
stamp="$dir/ready"
icd="$dir/lvp_icd.json"

print_env() {
  local libs
  libs="$(cat "$dir/libdirs")"
  echo "export VK_ICD_FILENAMES='$icd'"
  echo "export LD_LIBRARY_PATH='$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}'"
}

if [[ -f "$stamp" && -f "$icd" ]]; then
  print_env
  exit 0
fi

[[ "$(uname -s)" == Linux ]] || die "lavapipe is provided on Linux only; on $(uname -s) WebGPU runs on the machine's own GPU (set FACELOSSES_WEBGPU_TEST_DEVICE=native for the tests)"
command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null && command -v dpkg >/dev/null ||
  die "needs apt-get, dpkg and dpkg-deb (Debian or a derivative); elsewhere install Mesa >= 24 with lavapipe and export VK_ICD_FILENAMES=<its lvp_icd json>"

# shellcheck disable=SC1091
. /etc/os-release
codename="${VERSION_CODENAME:-}"
[[ "${ID:-}" == debian && -n "$codename" ]] ||
  die "this script knows Debian's packages only (found ${PRETTY_NAME:-an unknown system}); install Mesa >= 24 with lavapipe (package mesa-vulkan-drivers) and export VK_ICD_FILENAMES=<its lvp_icd json>"
case "$codename" in
  bookworm) suite=bookworm-backports ;; # Debian 12: Mesa 22.3 in the release, 25 in backports
  buster | bullseye) die "Debian $codename is too old: Dawn needs Mesa >= 24 (Debian 12 with bookworm-backports, or later)" ;;
  *) suite="$codename" ;;
esac
arch="$(dpkg --print-architecture)"
multiarch="$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null || echo "$(uname -m)-linux-gnu")"

# The Debian archive the system already uses (deb822 .sources or one-line .list files).
mirror="${FACELOSSES_DEBIAN_MIRROR:-}"
if [[ -z "$mirror" ]]; then
  mirror="$(
    {
      cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '
        /^URIs:/ { u = $2 } /^Suites:/ { s = $0 }
        /^$/ { if (s ~ /[ \t]'"$codename"'([ \t]|$)/ && u != "") print u; u = ""; s = "" }
        END { if (s ~ /[ \t]'"$codename"'([ \t]|$)/ && u != "") print u }'
      cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '$1 == "deb" && $0 ~ /[ \t]'"$codename"'[ \t]/ { for (i = 2; i <= NF; i++) if ($i !~ /^\[/ && $i !~ /\]$/) { print $i; break } }'
    } | grep -v security | head -n 1 || true
  )"
fi
[[ -n "$mirror" ]] || die "found no Debian archive for $codename in /etc/apt/sources.list*; set FACELOSSES_DEBIAN_MIRROR to one"

say "providing Mesa lavapipe from Debian $suite into $dir"
rm -rf "$dir/apt" "$dir/debs" "$dir/root" "$icd" "$dir/libdirs"
mkdir -p "$dir/apt/lists/partial" "$dir/apt/cache/archives/partial" "$dir/debs" "$dir/root"
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[[ -f "$keyring" ]] || die "missing $keyring (package debian-archive-keyring)"
{
  echo "deb [signed-by=$keyring] $mirror $suite main"
  [[ "$suite" == "$codename" ]] || echo "deb [signed-by=$keyring] $mirror $codename main"
} >"$dir/apt/sources.list"
apt_opts=(
  -o "Dir::Etc::SourceList=$dir/apt/sources.list"
  -o "Dir::Etc::SourceParts=$dir/apt/none"
  -o "Dir::State::Lists=$dir/apt/lists"
  -o "Dir::Cache=$dir/apt/cache"
  -o "APT::Sandbox::User=$(id -un)"
  -o "Debug::NoLocking=1"
  -o "APT::Architecture=$arch"
)
apt-get "${apt_opts[@]}" -q update >&2 || die "apt-get update of $suite failed (no access to $mirror?)"

# What installing the driver would bring, measured against the installed system: exactly what
# is missing or too old (the loader libvulkan1, libdrm, ...).
plan="$(apt-get "${apt_opts[@]}" -s -q install --no-install-recommends "mesa-vulkan-drivers/$suite" libvulkan1 2>&1)" ||
  die "apt-get cannot resolve mesa-vulkan-drivers from $suite: $plan"
mapfile -t pkgs < <(printf '%s\n' "$plan" | awk '$1 == "Inst" { v = $3; if (v ~ /^\[/) v = $4; gsub(/[()]/, "", v); print $2 "=" v }')
printf '%s\n' "${pkgs[@]}" | grep -q '^mesa-vulkan-drivers=' || die "apt-get would not install mesa-vulkan-drivers from $suite: $plan"
say "downloading ${pkgs[*]}"
(cd "$dir/debs" && apt-get "${apt_opts[@]}" -q download "${pkgs[@]}" >&2) || die "apt-get download failed"
for deb in "$dir"/debs/*.deb; do dpkg-deb -x "$deb" "$dir/root"; done

lib="$dir/root/usr/lib/$multiarch"
driver="$lib/libvulkan_lvp.so"
[[ -f "$driver" ]] || die "the packages hold no $driver"
# The package's ICD names the driver without a path; this one names the unpacked copy.
api="$(sed -n 's/.*"api_version": *"\([^"]*\)".*/\1/p' "$dir"/root/usr/share/vulkan/icd.d/lvp_icd*.json | head -n 1)"
printf '{"file_format_version": "1.0.0", "ICD": {"library_path": "%s", "api_version": "%s"}}\n' "$driver" "${api:-1.3.0}" >"$icd"
echo "$lib" >"$dir/libdirs"
missing="$(LD_LIBRARY_PATH="$lib" ldd "$driver" | awk '/not found/ { print $1 }' | tr '\n' ' ')"
[[ -z "$missing" ]] || die "the driver needs libraries that are neither installed nor downloaded: $missing"
[[ -f "$lib/libvulkan.so.1" ]] || ldconfig -p | grep -q 'libvulkan\.so\.1 ' || die "no Vulkan loader (libvulkan.so.1) installed or downloaded"
mesa="$(dpkg-deb -f "$dir"/debs/mesa-vulkan-drivers_*.deb Version)"
rm -rf "$dir/apt" "$dir/debs"
printf '%s\n' "${pkgs[@]}" >"$stamp"
say "lavapipe from Mesa $mesa ready ($(du -sh "$dir/root" | cut -f1) in $dir)"
print_env
