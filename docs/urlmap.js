// The online references of the namespaces qvm-glib's reference links to.
// SPDX-License-Identifier: LGPL-2.1-or-later
baseURLs = [
    [ 'GLib', 'https://docs.gtk.org/glib/' ],
    [ 'GObject', 'https://docs.gtk.org/gobject/' ],
    [ 'Gio', 'https://docs.gtk.org/gio/' ],
    [ 'Json', 'https://gnome.pages.gitlab.gnome.org/json-glib/' ],
    [ 'Soup', 'https://libsoup.org/libsoup-3.0/' ],
]
