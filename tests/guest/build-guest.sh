#!/bin/bash
# Builds the qvm-glib test guest image archive from Debian packages, without
# root and without mounting anything.
#
#   build-guest.sh OUTPUT.tar.zst CACHE_DIR
#
# OUTPUT is a zstd-compressed tar holding exactly disk.img (raw, sparse: an
# MBR with syslinux, one FAT16 partition with the kernel and a busybox
# initramfs), layer.qcow2 (an empty qcow2 v3 layer over disk.img) and
# machine.json. CACHE_DIR keeps the downloaded .deb files: once they are
# there, the build uses no network.
#
# The guest's /init (init.sh beside this script) loads the network driver,
# gets a DHCP lease, runs http://169.254.169.254/payload and posts the
# result back, then powers off.
set -euo pipefail

if [ $# -ne 2 ]; then
  echo "usage: $0 OUTPUT.tar.zst CACHE_DIR" >&2
  exit 2
fi

here=$(cd "$(dirname "$0")" && pwd)
output=$1
cache=$2
case "$output" in /*) ;; *) output=$(pwd)/$output ;; esac
case "$cache" in /*) ;; *) cache=$(pwd)/$cache ;; esac

# mkfs.fat and sfdisk live in /usr/sbin, which a normal user's PATH may lack.
PATH=$PATH:/usr/sbin:/sbin
export PATH
# mtools refuses images whose FAT geometry does not match a real drive.
MTOOLS_SKIP_CHECK=1
export MTOOLS_SKIP_CHECK

DISK_MIB=64
PART_START=2048                 # sectors: the partition starts at 1 MiB
PART_OFFSET=$((PART_START * 512))
MACHINE_UUID=5e0b2a57-4c1d-4f8e-9a3b-7d6c2e1f0a94
MACHINE_MAC=02:51:56:00:00:01
MACHINE_DEVICE=virtio-net-pci      # links up at once; e1000 takes ~2 s more
MACHINE_MEMORY=128
# The kernel writes to the screen (tty0) and the serial port; /dev/console
# is the last one, ttyS0.
KERNEL_CMDLINE="console=tty0 console=ttyS0 quiet panic=-1"
SYSLINUX_DIR=/usr/lib/syslinux
# The last MiB of the disk lies outside any partition: a scratch area that
# test payloads may write to (see README.md).
SCRATCH_MIB=1
# The drivers /init may load: the network cards of the machine schema and
# the virtio disk (both virtio drivers also need the PCI transport), each
# with its dependencies. Debian builds virtio_blk as a module.
DRIVERS="e1000 8139cp virtio_net virtio_blk"
declare -A DRIVER_EXTRA=([virtio_net]=virtio_pci [virtio_blk]=virtio_pci)

say () {
  echo "build-guest: $*" >&2
}

fail () {
  echo "build-guest: error: $*" >&2
  exit 1
}

missing=""
for tool in apt-get apt-cache dpkg-deb tar zstd xz gzip qemu-img sfdisk \
            mkfs.fat mcopy mmd syslinux; do
  command -v "$tool" > /dev/null 2>&1 || missing="$missing $tool"
done
for file in "$SYSLINUX_DIR/mbr/mbr.bin" "$SYSLINUX_DIR/modules/bios/ldlinux.c32"; do
  [ -r "$file" ] || missing="$missing $file"
done
if [ -n "$missing" ]; then
  fail "missing:$missing (tools/setup.sh installs the packages)"
fi

work=$output.work
rm -rf "$work"
mkdir -p "$work" "$cache"
trap 'rm -rf "$work"' EXIT

# --- Debian packages --------------------------------------------------------

# The generic kernel the linux-image-amd64 metapackage points at (the cloud
# flavour lacks e1000 and 8139cp). apt-cache reads local lists only.
kernel_package=$(apt-cache depends linux-image-amd64 2>/dev/null \
                 | sed -n 's/^ *Depends: \(linux-image-[0-9][^ ]*-amd64\)$/\1/p' \
                 | head -n 1) || true

# Prints the cached .deb of package $1, if there is one.
cached_deb () {
  for deb in "$cache/$1"_*_amd64.deb; do
    [ -e "$deb" ] && echo "$deb" && return 0
  done
  return 1
}

# Prints the .deb of package $1, downloading it into the cache if needed.
fetch_deb () {
  if ! cached_deb "$1"; then
    say "downloading $1"
    (cd "$cache" && apt-get download -q "$1" > /dev/null) \
      || fail "apt-get download $1 failed (no network? an offline build can skip the guest with meson setup -Dguest_tests=disabled)"
    cached_deb "$1" || fail "apt-get download $1 left no .deb in $cache"
  fi
}

if [ -z "$kernel_package" ]; then
  # Without package lists, fall back to a kernel downloaded earlier.
  for deb in "$cache"/linux-image-[0-9]*-amd64_*_amd64.deb; do
    [ -e "$deb" ] && kernel_package=$(basename "$deb" | sed 's/_.*//')
  done
  [ -n "$kernel_package" ] \
    || fail "apt-cache knows no linux-image-amd64 (run apt-get update) and $cache has no kernel"
fi
kernel_deb=$(fetch_deb "$kernel_package")
busybox_deb=$(fetch_deb busybox-static)
kernel_release=${kernel_package#linux-image-}
# Kernels of earlier builds only take space once a newer one is in use.
for stale in "$cache"/linux-image-*; do
  case "$stale" in
    "${kernel_deb%.deb}"*) ;;
    *) rm -rf "$stale" ;;
  esac
done
say "kernel $(basename "$kernel_deb"), $(basename "$busybox_deb")"

# Only the kernel image and the module folders the drivers can need are
# unpacked (the whole package is 400 MB), once per kernel package: that is
# most of the build time. The list of patterns is part of the cache key.
kernel_members=(
  "./boot/vmlinuz-$kernel_release"
  "./lib/modules/$kernel_release/kernel/drivers/net/*.ko*"
  "./lib/modules/$kernel_release/kernel/drivers/block/virtio_blk.ko*"
  "./lib/modules/$kernel_release/kernel/drivers/net/ethernet/intel/e1000/*"
  "./lib/modules/$kernel_release/kernel/drivers/net/ethernet/realtek/*"
  "./lib/modules/$kernel_release/kernel/drivers/virtio/*"
  "./lib/modules/$kernel_release/kernel/net/core/*"
)
kernel_key=$(printf '%s\n' "${kernel_members[@]}")
kernel_tree=$cache/$(basename "$kernel_deb" .deb).unpacked
if [ "$(cat "$kernel_tree/members" 2>/dev/null)" != "$kernel_key" ]; then
  say "unpacking $(basename "$kernel_deb")"
  rm -rf "$kernel_tree" "$kernel_tree.tmp"
  mkdir -p "$kernel_tree.tmp"
  dpkg-deb --fsys-tarfile "$kernel_deb" \
    | tar -x -C "$kernel_tree.tmp" --wildcards --no-wildcards-match-slash "${kernel_members[@]}" \
    || fail "cannot unpack $kernel_deb"
  echo "$kernel_key" > "$kernel_tree.tmp/members"
  mv "$kernel_tree.tmp" "$kernel_tree"
fi
mkdir -p "$work/busybox"
dpkg-deb -x "$busybox_deb" "$work/busybox"
vmlinuz=$kernel_tree/boot/vmlinuz-$kernel_release
modules=$kernel_tree/lib/modules/$kernel_release/kernel
busybox=$work/busybox/bin/busybox
[ -r "$vmlinuz" ] || fail "$kernel_deb has no boot/vmlinuz-$kernel_release"
[ -x "$busybox" ] || fail "$busybox_deb has no bin/busybox"

# --- initramfs --------------------------------------------------------------

root=$work/initramfs
mkdir -p "$root/bin" "$root/sbin" "$root/etc" "$root/proc" "$root/sys" \
         "$root/dev" "$root/tmp" "$root/lib/modules/qvm"
cp "$busybox" "$root/bin/busybox"
for applet in $("$busybox" --list); do
  [ "$applet" = busybox ] || ln -s busybox "$root/bin/$applet"
done
cp "$here/init.sh" "$root/init"
cp "$here/udhcpc.script" "$root/etc/udhcpc.script"
cp "$here/qvm-shells.sh" "$root/bin/qvm-shells"
chmod 755 "$root/init" "$root/etc/udhcpc.script" "$root/bin/qvm-shells"

# Module names use '_' where file names may use '-'.
module_name () {
  echo "$1" | tr '-' '_'
}

# Prints the file of module $1 (any compression).
module_file () {
  local name file base
  name=$(module_name "$1")
  while IFS= read -r file; do
    base=$(basename "$file")
    base=${base%.xz}; base=${base%.zst}; base=${base%.gz}; base=${base%.ko}
    if [ "$(module_name "$base")" = "$name" ]; then
      echo "$file"
      return 0
    fi
  done < <(find "$modules" -name '*.ko' -o -name '*.ko.xz' -o -name '*.ko.zst' -o -name '*.ko.gz')
  return 1
}

# Copies module $1 uncompressed into the initramfs (the busybox insmod of
# the guest reads plain .ko files) and prints its dependencies.
install_module () {
  local name file target
  name=$(module_name "$1")
  file=$(module_file "$1") || fail "module $1 is not in $(basename "$kernel_deb")"
  target=$root/lib/modules/qvm/$name.ko
  case "$file" in
    *.xz) xz -dc "$file" > "$target" ;;
    *.zst) zstd -q -dc "$file" > "$target" ;;
    *.gz) gzip -dc "$file" > "$target" ;;
    *) cp "$file" "$target" ;;
  esac
  tr '\0' '\n' < "$target" | sed -n 's/^depends=//p' | head -n 1 | tr ',' ' '
}

# Appends module $1 and, before it, everything it depends on to the load
# order in $order.
order=""
add_module () {
  local name deps dep
  name=$(module_name "$1")
  case " $order " in *" $name.ko "*) return 0 ;; esac
  deps=$(install_module "$name")
  for dep in $deps; do
    add_module "$dep"
  done
  order="$order $name.ko"
}

for driver in $DRIVERS; do
  order=""
  for module in ${DRIVER_EXTRA[$driver]:-} $driver; do
    add_module "$module"
  done
  echo "${order# }" > "$root/lib/modules/qvm/$driver.list"
  say "driver $driver loads:$order"
done

(cd "$root" && find . | sort | "$busybox" cpio -o -H newc -R 0:0 2>/dev/null) \
  | gzip -9 -n > "$work/initrd.gz"

# --- disk.img ---------------------------------------------------------------

disk=$work/disk.img
part_bytes=$(((DISK_MIB - SCRATCH_MIB) * 1024 * 1024 - PART_OFFSET))
truncate -s "${DISK_MIB}M" "$disk"
echo "start=$PART_START, size=$((part_bytes / 512)), type=e, bootable" \
  | sfdisk -q --no-reread --no-tell-kernel "$disk" > /dev/null
# Syslinux's MBR code goes before the disk signature and partition table.
dd if="$SYSLINUX_DIR/mbr/mbr.bin" of="$disk" bs=440 count=1 conv=notrunc status=none
mkfs.fat -F 16 -n QVMGUEST -i 51564d00 --offset "$PART_START" -h "$PART_START" \
  "$disk" $((part_bytes / 1024)) > /dev/null
fat="$disk@@$PART_OFFSET"
cat > "$work/syslinux.cfg" << EOF
SERIAL 0 115200
DEFAULT qvm
PROMPT 0
TIMEOUT 0
LABEL qvm
  KERNEL /vmlinuz
  INITRD /initrd.gz
  APPEND $KERNEL_CMDLINE
EOF
mcopy -i "$fat" "$vmlinuz" ::vmlinuz
mcopy -i "$fat" "$work/initrd.gz" ::initrd.gz
mcopy -i "$fat" "$work/syslinux.cfg" ::syslinux.cfg
syslinux --offset "$PART_OFFSET" --install "$disk"
# syslinux --install writes ldlinux.sys; the core also loads ldlinux.c32.
mcopy -n -o -i "$fat" "$SYSLINUX_DIR/modules/bios/ldlinux.c32" ::ldlinux.c32

# --- layer.qcow2, machine.json, archive --------------------------------------

# Run in the work folder so the backing file name is exactly "disk.img".
(cd "$work" && qemu-img create -q -f qcow2 -o compat=1.1 -b disk.img -F raw layer.qcow2)
cat > "$work/machine.json" << EOF
{
  "version": 1,
  "uuid": "$MACHINE_UUID",
  "memory": $MACHINE_MEMORY,
  "network": {
    "device": "$MACHINE_DEVICE",
    "mac": "$MACHINE_MAC"
  },
  "keyboard": {
    "layout": "en-us"
  }
}
EOF

tar -C "$work" -c -S --format=gnu --owner=0 --group=0 --numeric-owner \
    --mtime=@0 disk.img layer.qcow2 machine.json \
  | zstd -q -T0 -f -o "$output.tmp"
mv -f "$output.tmp" "$output"
say "wrote $output ($(wc -c < "$output") bytes, kernel $kernel_release)"
