#!/usr/bin/python3
# make-seeds.py: writes the text seeds of the fuzz corpora
#
# Copyright 2026 The qvm-glib authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Usage: tests/fuzz/make-seeds.py [CORPUS_FOLDER]   (default: next to this file)
#
# The seeds are the valid examples and the bad cases the unit tests know
# (tests/test-machine.c, test-machine-options.c, test-schema.c,
# test-qmp-parser.c, test-qmp-fake.c), one file each. The binary seeds
# (qcow2 headers, image archives) come from fuzz-make-seeds.c. Files are
# rewritten, never deleted: seeds that fuzzing found (regressions) are
# added to the corpus folders by hand and stay.

import copy
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, 'corpus')

FULL_MACHINE = {
    'version': 1,
    'uuid': '6b8c5d0e-2f0b-4c52-9a55-0c1f0e9b6a2d',
    'memory': 2048,
    'network': {'device': 'virtio-net-pci', 'mac': '02:5e:1a:00:00:01'},
    'keyboard': {'layout': 'de-ch'},
    'sound': {'device': 'hda-duplex', 'controller': 'intel-hda'},
    'cpu': {'threads': 2, 'cores': 4, 'sockets': 1},
}

MINIMAL_MACHINE = (
    '{"uuid": "0f8fad5b-d9cb-469f-a165-70867728950e",'
    ' "network": {"device": "e1000", "mac": "0a:00:27:00:00:00"},'
    ' "keyboard": {"layout": "en-us"}}')

REMOVE = object()


def machine_with(path, value_json):
    """The full machine with the member at PATH set to VALUE_JSON (JSON
    text), or removed when it is REMOVE."""
    machine = copy.deepcopy(FULL_MACHINE)
    members = path.split('.')
    obj = machine
    for member in members[:-1]:
        if not isinstance(obj.get(member), dict):
            obj[member] = {}
        obj = obj[member]
    if value_json is REMOVE:
        obj.pop(members[-1], None)
    else:
        obj[members[-1]] = json.loads(value_json)
    return json.dumps(machine, indent=2) + '\n'


def write(target, name, content):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    data = content.encode('utf-8', 'surrogateescape') if isinstance(content, str) else content
    with open(os.path.join(folder, name), 'wb') as f:
        f.write(data)


def safe(text):
    return ''.join(c if c.isalnum() or c in '-_.' else '_' for c in text)[:40]


def machine_seeds():
    seeds = {
        'valid-full.json': json.dumps(FULL_MACHINE, indent=2) + '\n',
        'valid-minimal.json': MINIMAL_MACHINE,
        'valid-escaped-layout.json': machine_with('keyboard.layout', '"en\\u002dus"'),
        'valid-empty-cpu.json': machine_with('cpu', '{}'),
        'valid-memory-max.json': machine_with('memory', '1048576'),
        'valid-memory-zero.json': machine_with('memory', '0'),
        'valid-uuid-v1.json': machine_with('uuid', '"123e4567-e89b-12d3-8a45-426614174000"'),
        'valid-sound-ac97.json': machine_with('sound', '{"device": "AC97", "controller": "pci"}'),
        'bad-json-trailing-comma.json': '{"uuid": 1,}',
        'bad-json-missing-colon.json': '{"a" "b"}',
        'bad-json-line2.json': '{\n"uuid": 1\n"memory": 2}',
        'bad-json-two-documents.json': '{}\n{}',
        'bad-json-two-arrays.json': '[] []',
        'bad-json-string-then-object.json': '"machine" {}',
        'bad-json-unterminated.json': '[1,',
        'bad-empty.json': '',
        'bad-latin1.json': b'{\n  "uuid": "caf\xe9"\n}\n',
        'bad-nul-byte.json': b'{"uuid": "a\x00b"}',
        'bad-deep.json': '[' * 100 + ']' * 100,
        'bad-deep-objects.json': '{"a":' * 40 + '1' + '}' * 40,
        'bad-number-syntax.json': '{"memory": 01, "cpu": {"cores": -0.5e}}',
        'bad-version-2.json': machine_with('version', '2'),
        'bad-not-object.json': '[1, 2, 3]',
        'bad-two-problems.json': machine_with('memory', '-5').replace('02:5e:1a:00:00:01', '01:00:5e:00:00:01'),
    }
    for mac, what in [('00:1b:21:3a:4f:5e', 'global'), ('01:00:5e:00:00:01', 'multicast'),
                      ('01:80:c2:00:00:00', 'both'), ('02:AB:CD:EF:00:01', 'upper'),
                      ('02-00-00-00-00-01', 'dashes'), ('020000000001', 'bare'),
                      ('02:00:00:00:00:01\n', 'newline'), ('', 'empty')]:
        seeds['bad-mac-%s.json' % what] = machine_with('network.mac', json.dumps(mac))
    seeds['bad-mac-integer.json'] = machine_with('network.mac', '2199023255553')
    seeds['bad-mac-null.json'] = machine_with('network.mac', 'null')
    for uuid, what in [('123e4567-e89b-02d3-a456-426614174000', 'version0'),
                       ('123e4567-e89b-72d3-c456-426614174000', 'version7-variant-c'),
                       ('123E4567-E89B-42D3-A456-426614174000', 'upper'),
                       ('urn:uuid:123e4567-e89b-42d3-a456-426614174000', 'urn'),
                       ('{123e4567-e89b-42d3-a456-426614174000}', 'braces')]:
        seeds['bad-uuid-%s.json' % what] = machine_with('uuid', json.dumps(uuid))
    seeds['bad-uuid-integer.json'] = machine_with('uuid', '42')
    seeds['bad-network-device.json'] = machine_with('network.device', '"ne2k_pci"')
    seeds['bad-keyboard-layout.json'] = machine_with('keyboard.layout', '"EN-US"')
    seeds['bad-sound-pair.json'] = machine_with('sound', '{"device": "AC97", "controller": "intel-hda"}')
    seeds['bad-sound-unknown.json'] = machine_with('sound', '{"device": "SB16", "controller": "pci"}')
    seeds['bad-sound-controller-type.json'] = machine_with('sound', '{"device": "hda-micro", "controller": 5}')
    seeds['bad-sound-missing-controller.json'] = machine_with('sound', '{"device": "AC97"}')
    seeds['bad-sound-extra.json'] = machine_with('sound', '{"device": "AC97", "controller": "intel-hda", "volume": 11}')
    seeds['bad-sound-string.json'] = machine_with('sound', '"AC97"')
    for value, what in [('-1', 'negative'), ('1048577', 'over'), ('4294967296', 'uint-overflow'),
                        ('512.5', 'fraction'), ('"512"', 'string'), ('1e300', 'huge'), ('true', 'bool')]:
        seeds['bad-memory-%s.json' % what] = machine_with('memory', value)
    for value, what in [('0', 'zero'), ('256', 'over'), ('2.5', 'fraction')]:
        seeds['bad-cpu-cores-%s.json' % what] = machine_with('cpu.cores', value)
    seeds['bad-cpu-integer.json'] = machine_with('cpu', '4')
    for path in ['volume', 'network.vlan', 'keyboard.model', 'sound.volume', 'cpu.dies']:
        seeds['bad-unknown-%s.json' % path.replace('.', '-')] = machine_with(path, '1')
    for path in ['uuid', 'network', 'keyboard', 'network.mac', 'keyboard.layout']:
        seeds['bad-missing-%s.json' % path.replace('.', '-')] = machine_with(path, REMOVE)
    for name, content in seeds.items():
        write('machine', name, content)
    return seeds


def options_seeds():
    seeds = {
        'valid-4096.json': '{"maxMemory": 4096}',
        'valid-zero.json': '{"maxMemory": 0}',
        'valid-limit.json': '{\n  "maxMemory": 1048576\n}\n',
        'valid-escaped.json': '{"max\\u004demory": 512}',
        'bad-over.json': '{"maxMemory": 1048577}',
        'bad-negative.json': '{"maxMemory": -1}',
        'bad-fraction.json': '{"maxMemory": 1.5}',
        'bad-exponent.json': '{"maxMemory": 1e3}',
        'bad-string.json': '{"maxMemory": "4096"}',
        'bad-missing.json': '{}',
        'bad-extra.json': '{"maxMemory": 4096, "maxCores": 2}',
        'bad-array.json': '[{"maxMemory": 4096}]',
        'bad-null.json': 'null',
        'bad-empty.json': '',
        'bad-truncated.json': '{"maxMemory": 40',
        'bad-duplicate.json': '{"maxMemory": 1, "maxMemory": 2}',
        'bad-latin1.json': b'{"maxMemory\xe9": 1}',
    }
    for name, content in seeds.items():
        write('options', name, content)


SCHEMAS = {
    'types.json': '{"type": ["string", "null"]}',
    'integer-bounds.json': '{"type": "integer", "minimum": 3, "maximum": 9, "enum": [4, 5]}',
    'exclusive.json': '{"minimum": 0, "exclusiveMinimum": true, "maximum": 2.5, "exclusiveMaximum": true}',
    'properties.json': '{"type": "object", "properties": {"cpu": {"properties": {"cores": {"type": "integer"}}},'
                       ' "name": {"type": "string"}}}',
    'required.json': '{"required": ["uuid", "network"], "properties": {"sound": {"required": ["device"]}}}',
    'additional.json': '{"properties": {"a": {}}, "additionalProperties": {"type": "integer"}}',
    'closed.json': '{"additionalProperties": false}',
    'enum-mixed.json': '{"enum": [1, "foo", null, [1, 2], {"a": [true]}, 2.0, 9007199254740992]}',
    'pattern-mac.json': '{"pattern": "^[0-9a-f]{2}(:[0-9a-f]{2}){5}$"}',
    'pattern-escapes.json': '{"pattern": "^\\\\d\\\\w\\\\D\\\\W\\\\b\\\\B[\\\\dx]\\\\u00e9\\\\ud83d\\\\udca9$"}',
    'pattern-empty-class.json': '{"anyOf": [{"pattern": "^a[]*b$"}, {"pattern": "^a[^]b$"}, {"pattern": "^[]a]+$"}]}',
    'pattern-backtracking.json': '{"pattern": "^([a-z]+ ?)*$"}',
    'pattern-invalid.json': '{"pattern": "(["}',
    'lengths.json': '{"minLength": 2, "maxLength": 4}',
    'items.json': '{"type": "array", "items": {"type": "object", "properties": {"x": {"type": "number"}}}}',
    'any-of.json': '{"anyOf": [{"type": "object", "properties": {"device": {"enum": ["AC97"]},'
                   ' "controller": {"enum": ["pci"]}}}, {"type": "object", "properties":'
                   ' {"device": {"enum": ["hda-duplex"]}, "controller": {"enum": ["intel-hda"]}}}]}',
    'one-of.json': '{"oneOf": [{"type": "integer"}, {"minimum": 2}, {"type": "string"}, {}]}',
    'annotations.json': '{"$schema": "http://json-schema.org/draft-04/schema#", "id": "x", "$id": "y",'
                        ' "title": "t", "description": "d", "default": [],'
                        ' "properties": {"a": {"type": "integer", "default": []}}}',
    'bad-title.json': '{"title": 3}',
    'bad-description.json': '{"properties": {"a": {"description": null}}}',
    'bad-pattern-properties.json': '{"properties": {"cpu": {"patternProperties": {}}}}',
    'bad-ref.json': '{"$ref": "#/definitions/a"}',
    'bad-not.json': '{"anyOf": [{}, {"not": {}}]}',
    'bad-format.json': '{"items": {"properties": {"x": {"format": "ipv4"}}}}',
    'bad-unique-items.json': '{"additionalProperties": {"uniqueItems": true}}',
    'bad-items-array.json': '{"items": [{}, {}]}',
    'bad-type-name.json': '{"type": "float"}',
    'bad-required.json': '{"required": "uuid"}',
    'bad-minimum.json': '{"minimum": "3"}',
    'bad-deep.json': '{"items": ' * 70 + '{}' + '}' * 70,
    'bad-deep-enum.json': '{"enum": [' + '[' * 70 + ']' * 70 + ']}',
    'bad-json.json': '{"type": ',
    'bad-empty.json': '',
    'bad-not-object.json': '[]',
}


def schema_seeds(machine):
    with open(os.path.join(HERE, '..', '..', 'qvm-glib', 'schemas', 'machine.schema.json'), 'rb') as f:
        write('schema', 'builtin-machine.schema.json', f.read())
    with open(os.path.join(HERE, '..', '..', 'qvm-glib', 'schemas', 'options.schema.json'), 'rb') as f:
        write('schema', 'builtin-options.schema.json', f.read())
    for name, content in SCHEMAS.items():
        write('schema', name, content)

    # Instances: machines (valid and not), options, and odd JSON.
    for name in ['valid-full.json', 'valid-minimal.json', 'bad-two-problems.json', 'bad-sound-pair.json',
                 'bad-sound-extra.json', 'bad-mac-both.json', 'bad-uuid-version7-variant-c.json',
                 'bad-memory-huge.json', 'bad-cpu-integer.json', 'bad-unknown-volume.json',
                 'bad-missing-uuid.json', 'bad-deep.json', 'bad-latin1.json']:
        write('schema-instance', 'machine-' + name, machine[name])
    others = {
        'options-valid.json': '{"maxMemory": 4096}',
        'options-bad.json': '{"maxMemory": -1, "x": []}',
        'scalars.json': '[0, -0, 1.0, 1e308, -9223372036854775808, 18446744073709551616, "", true, null]',
        'long-string.json': json.dumps('x' * 300),
        'long-array.json': json.dumps(list(range(200))),
        'escapes.json': '{"a\\"b\\\\c\\u0001\\t": "\\ud83d\\ude00", "": {}}',
        'empty.json': '',
        'garbage.json': '}{',
    }
    for name, content in others.items():
        write('schema-instance', name, content)


GREETING = ('{"QMP": {"version": {"qemu": {"micro": 22, "minor": 2, "major": 7},'
            ' "package": "Debian 1:7.2+dfsg-7"}, "capabilities": ["oob"]}}\r\n')
GREETING_PLAIN = '{"QMP": {"version": {"qemu": {"micro": 0, "minor": 0, "major": 6}}, "capabilities": []}}\r\n'
EVENT = '{"timestamp": {"seconds": 1700000000, "microseconds": 174828}, "event": "STOP"}\r\n'
EVENT_DATA = ('{"timestamp": {"seconds": 1700000000, "microseconds": 174828}, "event": "SHUTDOWN",'
              ' "data": {"guest": false, "reason": "host-qmp-quit"}}\r\n')


def ret(id, value='{}'):
    return '{"return": %s, "id": %d}\r\n' % (value, id)


def err(id, cls='GenericError', desc='it failed'):
    return '{"id": %d, "error": {"class": "%s", "desc": "%s"}}\r\n' % (id, cls, desc)


def qmp_seeds():
    parser = {
        'greeting.txt': GREETING,
        'session.txt': GREETING + ret(1) + EVENT + ret(2, '{"status": "running", "running": true}')
                       + err(3, 'CommandNotFound', 'The command nope has not been found') + EVENT_DATA,
        'pretty.txt': '  \n\t{\n  "return": {\n    "a": [1, {"b": "\\\\"}]\n  },\n  "id": 2\n}\r\n',
        'braces-in-strings.txt': '{"return": "}{]\\"[", "id": 1}\r\n'
                                 '{"return": "\\u00e9t\xe9 \\\\", "id": 3}'
                                 '{"event": "X", "timestamp": {"seconds": 1, "microseconds": 2}}',
        'garbage.txt': 'garbage\r\n',
        'control-bytes.txt': b'  \r\n\x01\xff',
        'array.txt': '[1, 2]',
        'number.txt': '42\n',
        'extra-brace.txt': '{"return": {}}}',
        'bad-literal.txt': '{"return": tru}',
        'mismatched.txt': '{"return": 1]',
        'missing-colon.txt': '{"return" 1}',
        'bad-utf8.txt': b'{"return": "\xff\xfe"}',
        'trailing-comma.txt': '\n\n{"return": 1, }',
        'not-qmp.txt': '{"foo": 1}',
        'empty-object.txt': '{}',
        'greeting-no-version.txt': '{"QMP": {"capabilities": []}}',
        'greeting-no-capabilities.txt': '{"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0}}}}',
        'greeting-bad-capability.txt': '{"QMP": {"version": {"qemu": {"major": 7, "minor": 2, "micro": 0}}, "capabilities": [1]}}',
        'error-no-class.txt': '{"error": {"desc": "x"}, "id": 1}',
        'error-string.txt': '{"error": "bad", "id": 1}',
        'event-name-number.txt': '{"event": 5, "timestamp": {"seconds": 1, "microseconds": 2}}',
        'event-no-timestamp.txt': '{"event": "STOP"}',
        'event-data-number.txt': '{"event": "STOP", "timestamp": {"seconds": 1, "microseconds": 2}, "data": 3}',
        'event-timestamp-range.txt': '{"event": "STOP", "timestamp": {"seconds": 9223372036854775807, "microseconds": 2}}',
        'after-message.txt': '{"return": {}, "id": 1}\r\nxyz',
        'deep.txt': '{"return": ' + '[' * 200 + ']' * 200 + '}',
        'long.txt': '{"return": "' + 'a' * 5000 + '"}',
        'half.txt': '{"return": {"status": "runn',
    }
    for name, content in parser.items():
        write('qmp-parser', name, content)

    # The client: greeting, the qmp_capabilities reply (id 1), then what
    # answers the commands the target sends (ids 2, 3, 4…).
    handshake = GREETING + ret(1)
    client = {
        'replies.txt': handshake + ret(2, '{"status": "running", "running": true}') + ret(3) + ret(4)
                       + ret(5) + ret(6) + ret(7) + ret(8) + ret(9),
        'errors.txt': handshake + err(2) + err(3, 'CommandNotFound') + err(4, 'DeviceNotFound')
                      + err(5, 'DeviceNotActive') + err(6, 'KVMMissingCap') + err(7, 'SomethingNew'),
        'events.txt': handshake + EVENT + EVENT_DATA + ret(3) + EVENT + ret(2) + ret(4),
        'out-of-order.txt': handshake + ret(4) + ret(2) + ret(3),
        'plain-greeting.txt': GREETING_PLAIN + ret(1) + ret(2),
        'unknown-id.txt': handshake + ret(99),
        'string-id.txt': handshake + '{"return": {}, "id": "2"}\r\n',
        'no-id.txt': handshake + '{"error": {"class": "GenericError", "desc": "JSON parse error"}}\r\n',
        'second-greeting.txt': handshake + GREETING,
        'capabilities-refused.txt': GREETING + err(1, 'GenericError', 'Capability negotiation failed'),
        'no-greeting.txt': ret(1),
        'garbage.txt': handshake + 'garbage\r\n',
        'half-reply.txt': handshake + '{"return": {"status": "runn',
        'greeting-only.txt': GREETING,
        'empty.txt': '',
        'pretty.txt': GREETING + '{\n  "return": {},\n  "id": 1\n}\n' + '{\n  "return": [\n    1\n  ],\n  "id": 2\n}\n',
        'many-events.txt': handshake + EVENT * 20 + ret(2),
    }
    for name, content in client.items():
        write('qmp-client', name, content)


def main():
    machine = machine_seeds()
    options_seeds()
    schema_seeds(machine)
    qmp_seeds()


if __name__ == '__main__':
    main()
