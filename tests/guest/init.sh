#!/bin/sh
# /init of the qvm-glib test guest (runs from the initramfs as PID 1).
#
# Loads the drivers of the network card and the virtio disk it finds, gets
# a DHCP lease, fetches http://169.254.169.254/payload, runs it as a shell
# script, posts its output and exit status to /result?status=N, and powers
# off. Every step prints a
# "qvm-guest: " line on the serial console and on the screen, so tests and
# humans can follow. /bin/qvm-shells (qvm-shells.sh) starts shells on both
# for payloads that want them.
# PID 1 must never exit (the kernel would panic), so every path ends in
# power_off.

export PATH=/sbin:/bin
METADATA=http://169.254.169.254
FETCH_TRIES=10
POST_TRIES=3

say () {
  echo "qvm-guest: $*"
  echo "qvm-guest: $*" > /dev/tty0 2>/dev/null
}

power_off () {
  say "powering off"
  sync
  poweroff -f
  # Only reached if ACPI power-off failed; the sysrq path needs no ACPI.
  echo o > /proc/sysrq-trigger
  while :; do sleep 60; done
}

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec < /dev/console > /dev/console 2>&1
mkdir -p /tmp
say "init started, kernel $(uname -r)"

# Loads a driver and the modules it depends on, in the order the image build
# wrote to /lib/modules/qvm/NAME.list; modules already loaded are skipped.
load_driver () {
  list=/lib/modules/qvm/$1.list
  if [ ! -r "$list" ]; then
    say "no module list for $1"
    return 1
  fi
  # The list is one line of file names.
  read -r modules < "$list"
  for ko in $modules; do
    name=${ko%.ko}
    [ -d "/sys/module/$name" ] && continue
    insmod "/lib/modules/qvm/$ko" || return 1
  done
}

# Picks the driver from the PCI vendor:device IDs of QEMU's network models.
nic_driver () {
  for dev in /sys/bus/pci/devices/*; do
    case "$(cat "$dev/vendor"):$(cat "$dev/device")" in
      0x8086:0x100e) echo e1000; return 0 ;;
      0x10ec:0x8139) echo 8139cp; return 0 ;;
      0x1af4:0x1000|0x1af4:0x1041) echo virtio_net; return 0 ;;
    esac
  done
  return 1
}

# Prints the first network interface other than lo, waiting up to 5 s for
# the driver to register it.
wait_interface () {
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    for path in /sys/class/net/*; do
      ifname=${path##*/}
      if [ "$ifname" != lo ] && [ -e "$path" ]; then
        echo "$ifname"
        return 0
      fi
    done
    sleep 0.5
  done
  return 1
}

# A virtio disk (QEMU's virtio-blk-pci, transitional or modern) gets its
# driver so payloads can read and write /dev/vda; the guest itself runs
# from the initramfs and needs no disk.
has_virtio_disk () {
  for dev in /sys/bus/pci/devices/*; do
    case "$(cat "$dev/vendor"):$(cat "$dev/device")" in
      0x1af4:0x1001|0x1af4:0x1042) return 0 ;;
    esac
  done
  return 1
}

if has_virtio_disk; then
  if load_driver virtio_blk; then
    say "disk driver virtio_blk loaded"
  else
    say "loading virtio_blk failed; payloads see no disk"
  fi
fi

if ! driver=$(nic_driver); then
  say "no supported network card (e1000, rtl8139, virtio-net) found"
  power_off
fi
say "loading network driver $driver"
if ! load_driver "$driver"; then
  say "loading $driver failed"
  power_off
fi
if ! ifname=$(wait_interface); then
  say "driver $driver created no network interface"
  power_off
fi

# A DHCP discover sent before the link is up is lost and udhcpc only retries
# after its pause, so wait for the carrier (e1000 takes about 2 s).
wait_carrier () {
  ip link set "$1" up
  for _ in $(seq 1 50); do
    [ "$(cat "/sys/class/net/$1/carrier" 2>/dev/null)" = 1 ] && return 0
    sleep 0.2
  done
  return 1
}

ip link set lo up
if ! wait_carrier "$ifname"; then
  say "no carrier on $ifname after 10 s; trying DHCP anyway"
fi
say "requesting DHCP lease on $ifname"
if ! udhcpc -f -q -n -t 5 -T 2 -i "$ifname" -s /etc/udhcpc.script; then
  say "no DHCP lease on $ifname"
  power_off
fi

tries=0
while :; do
  tries=$((tries + 1))
  say "fetching payload (try $tries of $FETCH_TRIES)"
  if timeout 10 wget -q -O /tmp/payload "$METADATA/payload"; then
    break
  fi
  if [ "$tries" -ge "$FETCH_TRIES" ]; then
    say "no payload from $METADATA/payload after $tries tries: giving up"
    power_off
  fi
  sleep 1
done

say "running payload ($(wc -c < /tmp/payload) bytes)"
sh /tmp/payload < /dev/null > /tmp/output 2>&1
status=$?
say "payload exit status $status"
say "payload output ($(wc -c < /tmp/output) bytes) follows"
head -c 4096 /tmp/output
echo
say "payload output ends"

tries=0
while :; do
  tries=$((tries + 1))
  say "posting result (try $tries of $POST_TRIES)"
  if timeout 30 wget -q -O /dev/null \
      --header "Content-Type: application/octet-stream" \
      --post-file /tmp/output "$METADATA/result?status=$status"; then
    say "result posted"
    break
  fi
  if [ "$tries" -ge "$POST_TRIES" ]; then
    say "could not post the result after $tries tries"
    break
  fi
  sleep 1
done

power_off
