#!/usr/bin/env python3
# Fails when a translatable string uses a G_*_FORMAT macro: xgettext does not
# know them and cuts the msgid there, so translators would see half a message.
# PRIu64/PRId64 (which xgettext knows) or %zu say the same thing.
import re
import sys

CALL = re.compile(r'_\(\s*"(?:[^"\\]|\\.)*"(?:\s*(?:[A-Z][A-Z0-9_]*|"(?:[^"\\]|\\.)*"))*\s*\)', re.S)
MACRO = re.compile(r'\bG_G[A-Z0-9]+_(?:FORMAT|MODIFIER)\b')

bad = 0
for path in sys.argv[1:]:
    with open(path, encoding='utf-8') as f:
        text = f.read()
    for call in CALL.finditer(text):
        if MACRO.search(call.group(0)):
            line = text.count('\n', 0, call.start()) + 1
            print(f'{path}:{line}: G_*_FORMAT inside _(): {call.group(0)[:70]}')
            bad += 1
sys.exit(1 if bad else 0)
