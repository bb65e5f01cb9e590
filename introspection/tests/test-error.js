#!/usr/bin/gjs -m
// The Qvm error domain as seen from GJS.
import GLib from 'gi://GLib';
import Qvm from 'gi://Qvm?version=1.0';
import {TapRunner} from './taprunner.js';

const t = new TapRunner();

t.test('error domain and codes', () => {
    t.equal(GLib.quark_to_string(Qvm.error_quark()), 'qvm-error-quark');
    t.equal(Qvm.Error.MALFORMED_PAYLOAD, 1);
});

t.run();
