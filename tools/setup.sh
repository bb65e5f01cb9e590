#!/bin/sh
# Installs every Debian 12 package qvm-glib needs to build, test and run its demo.
# Idempotent: packages already present are not fetched again, and the package
# lists are refreshed at most once per machine (or when a package is missing).
set -eu

PACKAGES="
  build-essential clang meson ninja-build pkg-config gettext
  libglib2.0-dev libjson-glib-dev libsoup-3.0-dev libarchive-dev libzstd-dev
  libgdk-pixbuf-2.0-dev gobject-introspection libgirepository1.0-dev
  gir1.2-glib-2.0 gir1.2-json-1.0 gir1.2-soup-3.0 gir1.2-gdkpixbuf-2.0
  python3-gi gjs valgrind libclang-rt-14-dev
  qemu-system-x86 qemu-utils zstd
  libgvnc-1.0-dev gnome-desktop-testing
  gir1.2-gtk-vnc-2.0 gir1.2-gtk-3.0 xvfb xauth
  json-schema-test-suite
  syslinux syslinux-common mtools dosfstools fdisk xz-utils
  gi-docgen
  dnsmasq-base nftables libnftables-dev libslirp-dev iproute2
"

missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then
  SUDO="sudo"
fi

echo "qvm-glib setup: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# Refresh the package lists once per machine; if an install still fails (the
# lists went stale since), refresh them and try once more.
stamp=/var/lib/apt/periodic/qvm-glib-update-stamp
if [ ! -e "$stamp" ]; then
  $SUDO apt-get update -q
  $SUDO mkdir -p "$(dirname "$stamp")" && $SUDO touch "$stamp"
fi
# shellcheck disable=SC2086
if ! $SUDO apt-get install -y -q --no-install-recommends $missing; then
  $SUDO apt-get update -q
  # shellcheck disable=SC2086
  $SUDO apt-get install -y -q --no-install-recommends $missing
fi
