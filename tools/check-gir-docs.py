#!/usr/bin/python3
# check-gir-docs.py: the documentation gi-docgen's check does not look at
#
# Copyright 2026 The qvm-glib authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# `gi-docgen check` reports undocumented classes, functions, methods,
# properties and signals, and their arguments, but not virtual methods,
# which the reference shows too and which Python and JavaScript
# implementations of an interface override. This lists every virtual method
# of the GIR without a doc comment, or with an undocumented argument or
# return value, and fails if there is one.
#
#   check-gir-docs.py Qvm-1.0.gir

import sys
import xml.etree.ElementTree as ET

CORE = '{http://www.gtk.org/introspection/core/1.0}'


def has_doc(element):
    return element.find(CORE + 'doc') is not None


def problems(gir_path):
    root = ET.parse(gir_path).getroot()
    namespace = root.find(CORE + 'namespace')
    if namespace is None:
        yield '%s: no namespace' % gir_path
        return
    ns = namespace.get('name')
    for kind in ('class', 'interface'):
        for owner in namespace.findall(CORE + kind):
            for vfunc in owner.findall(CORE + 'virtual-method'):
                if vfunc.get('introspectable') == '0':
                    continue
                name = '%s.%s.%s' % (ns, owner.get('name'), vfunc.get('name'))
                if not has_doc(vfunc):
                    yield "Virtual method '%s' is not documented" % name
                parameters = vfunc.find(CORE + 'parameters')
                for parameter in ([] if parameters is None else parameters):
                    if parameter.tag in (CORE + 'parameter', CORE + 'instance-parameter') \
                            and not has_doc(parameter):
                        yield "Parameter '%s' of virtual method '%s' is not documented" \
                            % (parameter.get('name'), name)
                retval = vfunc.find(CORE + 'return-value')
                if retval is not None and not has_doc(retval):
                    rtype = retval.find(CORE + 'type')
                    if rtype is None or rtype.get('name') != 'none':
                        yield "Return value of virtual method '%s' is not documented" % name


def main():
    if len(sys.argv) != 2:
        print('usage: check-gir-docs.py GIRFILE', file=sys.stderr)
        return 2
    found = list(problems(sys.argv[1]))
    for problem in found:
        print(problem)
    if found:
        print('%d documentation problem(s) in %s' % (len(found), sys.argv[1]))
        return 1
    print('%s: every virtual method is documented' % sys.argv[1])
    return 0


if __name__ == '__main__':
    sys.exit(main())
