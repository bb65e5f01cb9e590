#!/bin/sh
# /bin/qvm-shells of the qvm-glib test guest: starts the interactive shells
# that tests drive as a person would, one on the serial console (ttyS0,
# QEMU's console) and one on the screen (tty1, read from the keyboard),
# each started again when it exits. Their prompt is "qvm-sh$ ". A payload
# runs it and then waits (for example `qvm-shells; sleep 600`); without it
# the guest keeps its console to /init's own lines.
for tty in ttyS0 tty1; do
  (
    while :; do
      PS1='qvm-sh$ ' setsid -c sh -i < "/dev/$tty" > "/dev/$tty" 2>&1
      sleep 1
    done
  ) &
done
echo "qvm-guest: shells started on ttyS0 and tty1"
