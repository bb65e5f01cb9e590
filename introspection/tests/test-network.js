#!/usr/bin/gjs -m
// QvmUserNetwork and its metadata handler as seen from GJS.
import Gio from 'gi://Gio';
import GLib from 'gi://GLib';
import Qvm from 'gi://Qvm?version=1.0';
import Soup from 'gi://Soup?version=3.0';
import {TapRunner} from './taprunner.js';

const t = new TapRunner();
const decoder = new TextDecoder();
const encoder = new TextEncoder();

// Sends one request over the network's socket; returns [status, body text].
function fetch(network, method, path, body = null) {
    const address = Gio.UnixSocketAddress.new(network.get_socket_path());
    const session = new Soup.Session({remote_connectable: address});
    const message = Soup.Message.new(method, `http://169.254.169.254${path}`);
    if (body !== null)
        message.set_request_body_from_bytes('text/plain', new GLib.Bytes(encoder.encode(body)));
    const loop = new GLib.MainLoop(null, false);
    let answer = null, failure = null;
    session.send_and_read_async(message, GLib.PRIORITY_DEFAULT, null, (source, result) => {
        try {
            answer = decoder.decode(source.send_and_read_finish(result).toArray());
        } catch (e) {
            failure = e;
        }
        loop.quit();
    });
    loop.run();
    if (failure)
        throw failure;
    return [message.get_status(), answer];
}

t.test('handler answers the guest, release removes the folder', () => {
    const folder = GLib.dir_make_tmp('qvm-gjs-XXXXXX');
    const network = Qvm.UserNetwork.new(folder);
    const socketPath = network.get_socket_path();
    t.ok(socketPath.startsWith(`${folder}/`), 'socket path');

    const seen = [];
    network.set_handler((server, msg, path, query) => {
        const body = decoder.decode(msg.get_request_body().flatten().toArray());
        seen.push(`${msg.get_method()} ${path} ${body}`);
        msg.set_status(200, null);
        msg.set_response('text/plain', Soup.MemoryUse.COPY, encoder.encode(`echo:${body}`));
    });
    const [status, body] = fetch(network, 'POST', '/result', 'hello');
    t.equal(status, 200, 'status');
    t.equal(body, 'echo:hello', 'body');
    t.equal(seen.join('|'), 'POST /result hello', 'handler saw');

    network.set_handler(null);
    t.equal(fetch(network, 'GET', '/payload')[0], 404, 'no handler');

    t.ok(network.get_netdev('net0').startsWith('user,id=net0,restrict=on,'), 'netdev');

    const privateFolder = GLib.path_get_dirname(socketPath);
    network.release();
    network.release();
    t.ok(!GLib.file_test(privateFolder, GLib.FileTest.EXISTS), 'private folder removed');
    t.equal(network.get_socket_path(), null, 'socket path after release');
    let code = null;
    try {
        network.get_netdev('net0');
    } catch (e) {
        code = e.matches(Qvm.error_quark(), Qvm.Error.INVALID_STATE) ? 'invalid-state' : `${e}`;
    }
    t.equal(code, 'invalid-state', 'netdev after release');
    GLib.rmdir(folder);
});

t.run();
