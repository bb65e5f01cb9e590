#!/usr/bin/python3
# vnc-viewer.py: show a virtual machine's screen in a GTK window (gtk-vnc)
#
#   vnc-viewer.py ARCHIVE [--accel auto|kvm|tcg] [--check WINDOW.png]
#
# Boots ARCHIVE (the test guest of tests/guest works) with a payload that
# keeps the guest up, and attaches a GtkVnc.Display to the machine's VNC
# socket, a unix socket:
#
#     display.open_addr(Gio.UnixSocketAddress.new(vm.get_vnc_socket()), None)
#
# Closing the window shuts the machine down. With --check, once the guest
# fetched its payload, the window's pixels (as the X server shows them) are
# compared with the machine's own screenshot; the window is saved to
# WINDOW.png and the exit status is 0 when the two show the same screen.
#
# Copyright 2026 The qvm-glib authors
# SPDX-License-Identifier: LGPL-2.1-or-later
import argparse
import shutil
import sys
import tempfile

import gi
gi.require_version('Gdk', '3.0')
gi.require_version('GdkPixbuf', '2.0')
gi.require_version('Gtk', '3.0')
gi.require_version('GtkVnc', '2.0')
gi.require_version('Qvm', '1.0')
gi.require_version('Soup', '3.0')
from gi.repository import Gdk, Gio, GLib, Gtk, GtkVnc, Qvm, Soup  # noqa: E402

PAYLOAD = b'sleep 600\n'
SETTLE_MS = 1500          # after the payload is fetched, for the screen to be still
CHANNEL_TOLERANCE = 24    # per colour channel, for the VNC encoding
LIT = 64                  # a channel above this: not the dark background
MAX_DIFFERENT = 0.05      # of the lit pixels: the text cursor blinks


def count_colours(pixbuf):
    """How many distinct pixels a screen has (a blank one has one)."""
    data = pixbuf.get_pixels()
    channels, stride = pixbuf.get_n_channels(), pixbuf.get_rowstride()
    seen = set()
    for y in range(0, pixbuf.get_height(), 4):
        row = y * stride
        for x in range(0, pixbuf.get_width(), 4):
            seen.add(bytes(data[row + x * channels:row + x * channels + 3]))
            if len(seen) > 1:
                return len(seen)
    return len(seen)


def fraction_different(a, b):
    """The share of the lit pixels (bright in either picture: text on a
    dark screen is what there is to compare) whose colour differs by more
    than the tolerance."""
    if (a.get_width(), a.get_height()) != (b.get_width(), b.get_height()):
        return 1.0
    pa, pb = a.get_pixels(), b.get_pixels()
    ca, cb = a.get_n_channels(), b.get_n_channels()
    sa, sb = a.get_rowstride(), b.get_rowstride()
    lit = different = 0
    for y in range(a.get_height()):
        for x in range(a.get_width()):
            ia, ib = y * sa + x * ca, y * sb + x * cb
            colour_a, colour_b = pa[ia:ia + 3], pb[ib:ib + 3]
            if max(colour_a) < LIT and max(colour_b) < LIT:
                continue
            lit += 1
            if any(abs(colour_a[c] - colour_b[c]) > CHANNEL_TOLERANCE for c in range(3)):
                different += 1
    return different / lit if lit else 1.0


class Viewer:
    def __init__(self, archive, accel, check):
        self.folder = tempfile.mkdtemp(prefix='vnc-viewer-')
        self.check = check
        self.status = 1
        self.payload_fetched = False

        store = Qvm.ImageStore.new(self.folder + '/store')
        image = store.instance(None, Gio.File.new_for_commandline_arg(archive), None)
        network = Qvm.UserNetwork.new(self.folder)
        self.vm = Qvm.VirtualMachine.new(Qvm.MachineOptions.new(1024), image, network,
                                         self.folder, None, None)
        self.vm.set_accel(Qvm.Accel.parse(accel))
        self.vm.set_http_handler(self.handle)
        self.vm.connect('done', lambda vm: Gtk.main_quit())

        self.display = GtkVnc.Display()
        self.display.set_scaling(False)
        self.display.connect('vnc-desktop-resize', self.on_resize)
        self.window = Gtk.Window(title='qvm-glib: ' + archive)
        self.window.add(self.display)
        self.window.connect('delete-event', self.on_delete)

    def handle(self, server, message, path, query):
        if message.get_method() == 'GET' and path == '/payload':
            message.set_response('text/plain', Soup.MemoryUse.COPY, PAYLOAD)
            message.set_status(200, None)
            if self.check and not self.payload_fetched:
                self.payload_fetched = True
                GLib.timeout_add(SETTLE_MS, self.compare)
        else:
            message.set_status(404, None)

    def on_resize(self, display, width, height):
        self.window.resize(width, height)

    def on_delete(self, window, event):
        self.vm.shutdown_async(10 * 1000, None, None)
        return True

    def started(self, vm, result):
        try:
            vm.start_finish(result)
        except GLib.Error as error:
            print('start:', error.message, file=sys.stderr)
            return
        address = Gio.UnixSocketAddress.new(vm.get_vnc_socket())
        self.display.open_addr(address, None)
        self.window.show_all()

    def compare(self):
        self.vm.screenshot_async(None, self.screenshot_done)
        return GLib.SOURCE_REMOVE

    def screenshot_done(self, vm, result):
        screen = vm.screenshot_finish(result)
        gdk_window = self.display.get_window()
        shown = Gdk.pixbuf_get_from_window(gdk_window, 0, 0, screen.get_width(), screen.get_height())
        shown.savev(self.check, 'png', [], [])
        different = fraction_different(shown, screen)
        print(f'screen {screen.get_width()}x{screen.get_height()}, '
              f'{different:.2%} of the lit pixels differ between window and screen')
        if count_colours(screen) < 2:
            print('the guest\'s screen is blank: nothing to compare', file=sys.stderr)
        elif different <= MAX_DIFFERENT:
            self.status = 0
        vm.kill()

    def run(self):
        self.vm.start_async(None, self.started)
        try:
            Gtk.main()
        finally:
            self.display.close()
            shutil.rmtree(self.folder, ignore_errors=True)
        return self.status if self.check else 0


def main():
    parser = argparse.ArgumentParser(description='Show a virtual machine\'s screen with gtk-vnc.')
    parser.add_argument('archive')
    parser.add_argument('--accel', default='auto')
    parser.add_argument('--check', metavar='WINDOW.png')
    options = parser.parse_args()
    return Viewer(options.archive, options.accel, options.check).run()


if __name__ == '__main__':
    sys.exit(main())
