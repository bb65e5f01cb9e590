// What the GJS tests that run a virtual machine share: iterating the main
// context until something holds, running an _async/_finish pair, removing
// a test's folder.
import Gio from 'gi://Gio';
import GLib from 'gi://GLib';

const TIMEOUT_S = 60;

export function runUntil(condition) {
    const context = GLib.MainContext.default();
    const deadline = GLib.get_monotonic_time() + TIMEOUT_S * 1000000;
    while (!condition()) {
        if (GLib.get_monotonic_time() > deadline)
            throw new Error('timed out');
        context.iteration(true);
    }
}

// Runs an _async/_finish pair to completion and returns the result.
export function call(vm, name, ...args) {
    let result = null;
    vm[`${name}_async`](...args, null, (source, res) => {
        try {
            result = {value: vm[`${name}_finish`](res)};
        } catch (e) {
            result = {error: e};
        }
    });
    runUntil(() => result !== null);
    if (result.error)
        throw result.error;
    return result.value;
}

export function removeTree(path) {
    const file = Gio.File.new_for_path(path);
    const children = file.enumerate_children('standard::name,standard::type',
        Gio.FileQueryInfoFlags.NOFOLLOW_SYMLINKS, null);
    let info;
    while ((info = children.next_file(null)) !== null) {
        const child = GLib.build_filenamev([path, info.get_name()]);
        if (info.get_file_type() === Gio.FileType.DIRECTORY)
            removeTree(child);
        else
            Gio.File.new_for_path(child).delete(null);
    }
    file.delete(null);
}
