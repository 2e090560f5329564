#!/usr/bin/env bash
# Install the few system libraries the Python wheels need, only when missing:
#   libegl1 libegl-mesa0 libgl1-mesa-dri  offscreen OpenGL (EGL, Mesa llvmpipe) for MuJoCo rendering
#   libgles2                              GLES loader some EGL stacks ask for
#   libusb-1.0-0                          loaded by pyrealsense2 at import
#   g++ python3-dev                       torch.compile's C++ kernels (lps train --compile true)
set -euo pipefail
pkgs=(libegl1 libegl-mesa0 libgl1-mesa-dri libgles2 libusb-1.0-0 g++ python3-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "apt-deps: missing ${missing[*]} and no apt-get here; install them with your package manager" >&2
  exit 1
fi
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "apt-deps: installing ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
