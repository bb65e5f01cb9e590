#!/usr/bin/python3
# qvm-help-to-man.py: the qvm(1) manual page, from qvm's --help output
#
# Copyright 2026 The qvm-glib authors
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Runs the built `qvm --help`, reads the list of commands from it, runs
# `qvm COMMAND --help` for each, and writes one COMMANDS subsection per
# command (usage, description, options) into the template docs/qvm.1.in. The
# help texts are GOption's, so the page can never disagree with the program.
#
#   qvm-help-to-man.py --qvm BUILD/tools/qvm --template docs/qvm.1.in \
#                      --version 0.1.0 --output qvm.1

import argparse
import itertools
import os
import re
import subprocess
import sys


class HelpError(Exception):
    pass


def run_help(qvm, *command):
    # The untranslated help, so the page is the same on every build machine.
    env = dict(os.environ, LC_ALL='C.UTF-8', LANGUAGE='')
    result = subprocess.run([qvm, *command, '--help'], env=env, capture_output=True,
                            text=True, encoding='utf-8', timeout=30)
    if result.returncode != 0:
        raise HelpError('%s --help exited with status %d: %s'
                        % (' '.join(['qvm', *command]), result.returncode, result.stderr.strip()))
    return result.stdout


def parse_commands(text):
    """The (name, summary) pairs of the "Commands:" section of `qvm --help`."""
    lines = text.splitlines()
    try:
        start = lines.index('Commands:') + 1
    except ValueError:
        raise HelpError('qvm --help has no "Commands:" section')
    commands = []
    for line in lines[start:]:
        if not line.strip():
            break
        match = re.match(r'^\s+(\S+)(?:\s.*?)?\s{2,}(\S.*)$', line)
        if match is None:
            raise HelpError('cannot read the command line %r of qvm --help' % line)
        commands.append((match.group(1), match.group(2).strip()))
    if not commands:
        raise HelpError('qvm --help lists no commands')
    return commands


def parse_command_help(name, text):
    """A GOption --help text: its usage line, then its blocks in order:
    ('text', [lines]) for a paragraph of the summary or description, and
    ('options', [(names, description)]) for an option group."""
    lines = text.splitlines()
    if not lines or lines[0] != 'Usage:' or len(lines) < 2:
        raise HelpError('qvm %s --help does not start with "Usage:"' % name)
    usage = lines[1].strip()
    blocks = []
    current = None
    for line in lines[2:]:
        if not line.strip():
            current = None
            continue
        if re.match(r'^\S.*Options:$', line):
            current = ('options', [])
            blocks.append(current)
            continue
        if current is not None and current[0] == 'options':
            match = re.match(r'^\s+(-\S.*?)\s{2,}(\S.*)$', line)
            if match is None:
                raise HelpError('cannot read the option line %r of qvm %s --help' % (line, name))
            current[1].append((match.group(1), match.group(2)))
            continue
        if current is None:
            current = ('text', [])
            blocks.append(current)
        current[1].append(line)
    return usage, blocks


def escape(text):
    """Text for a troff text line: backslashes, leading control characters,
    and non-ASCII characters as groff's \\[uXXXX]."""
    text = text.replace('\\', '\\e')
    out = []
    for ch in text:
        if ord(ch) < 128:
            out.append(ch)
        elif ch == '\u2026':
            out.append('...')
        else:
            out.append('\\[u%04X]' % ord(ch))
    text = ''.join(out)
    if text.startswith(('.', "'")):
        text = '\\&' + text
    return text


def option_names(names):
    """`-p, --print` or `--output=FILE` as troff: names bold, arguments italic."""
    parts = []
    for name in names.split(', '):
        flag, sep, argument = name.partition('=')
        flag = escape(flag).replace('-', '\\-')
        if sep:
            parts.append('\\fB%s\\fR=\\fI%s\\fR' % (flag, escape(argument)))
        else:
            parts.append('\\fB%s\\fR' % flag)
    return ', '.join(parts)


def command_section(summary, usage, blocks):
    out = ['.SS "%s"' % escape(usage).replace('"', '\\(dq')]
    if not any(kind == 'text' for kind, _ in blocks):
        blocks = [('text', [summary])] + blocks
    first = True
    for kind, content in blocks:
        if kind == 'text':
            if not first:
                out.append('.PP')
            # Plain lines are filled as one paragraph; indented lines (a
            # table of exit statuses, an example) are kept line for line.
            for indented, run in itertools.groupby(content, lambda line: line[:1].isspace()):
                if indented:
                    out.append('.nf')
                    out.extend(escape(line) for line in run)
                    out.append('.fi')
                else:
                    out.append(escape(' '.join(line.strip() for line in run)))
            first = False
            continue
        for names, description in content:
            # Every command has -h/--help; the SYNOPSIS says so once.
            if names in ('-h, --help', '-?, --help'):
                continue
            out.append('.TP')
            out.append(option_names(names))
            out.append(escape(description))
            first = False
    return '\n'.join(out)


def main():
    parser = argparse.ArgumentParser(description="Writes qvm(1) from qvm's --help output.")
    parser.add_argument('--qvm', required=True, help='the qvm program to run')
    parser.add_argument('--template', required=True, help='docs/qvm.1.in')
    parser.add_argument('--version', required=True, help='the version of qvm-glib')
    parser.add_argument('--output', required=True, help='the manual page to write')
    args = parser.parse_args()

    try:
        commands = parse_commands(run_help(args.qvm))
        sections = []
        for name, summary in commands:
            usage, blocks = parse_command_help(name, run_help(args.qvm, name))
            sections.append(command_section(summary, usage, blocks))
        with open(args.template, encoding='utf-8') as f:
            template = f.read()
        for placeholder in ('@COMMANDS@', '@VERSION@'):
            if placeholder not in template:
                raise HelpError('%s has no %s' % (args.template, placeholder))
        page = template.replace('@VERSION@', escape(args.version))
        page = page.replace('@COMMANDS@', '\n'.join(sections))
        with open(args.output, 'w', encoding='utf-8') as f:
            f.write(page)
    except (OSError, subprocess.SubprocessError, HelpError) as e:
        print('qvm-help-to-man: %s' % e, file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
