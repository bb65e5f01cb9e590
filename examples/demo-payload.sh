#!/bin/sh
# The payload of tools/demo.sh: the test guest fetches it from
# http://169.254.169.254/payload, runs it with sh and posts what it prints.
echo "Hello from qvm-glib's demo guest!"
echo "kernel $(uname -r), $(grep -c ^processor /proc/cpuinfo) CPU(s), $(awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo) of memory"
echo "uptime $(cut -d' ' -f1 /proc/uptime) s"
