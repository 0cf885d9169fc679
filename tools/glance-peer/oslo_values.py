#!/usr/bin/python3
"""Prints what oslo.config itself reads from an INI file, for @store's config tests.

    oslo_values.py FILE GROUP.NAME:TYPE ...    TYPE is str, int, list or multistr

Registers each named option (oslo.config interpolates `$name` only from registered
options), reads FILE and prints {"GROUP.NAME": value, ...} as JSON. A failure prints
{"error": <exception class name>, "message": ...} and exits 1.
"""
import json
import sys

from oslo_config import cfg

TYPES = {'str': cfg.StrOpt, 'int': cfg.IntOpt, 'list': cfg.ListOpt, 'multistr': cfg.MultiStrOpt}


def main():
    path, specs = sys.argv[1], sys.argv[2:]
    conf = cfg.ConfigOpts()
    wanted = []
    for spec in specs:
        name, kind = spec.rsplit(':', 1)
        group, opt = name.split('.', 1)
        conf.register_opt(TYPES[kind](opt), group=None if group == 'DEFAULT' else group)
        wanted.append((name, group, opt))
    try:
        conf(args=[], default_config_files=[path])
        values = {name: conf[opt] if group == 'DEFAULT' else conf[group][opt]
                  for name, group, opt in wanted}
    except Exception as err:  # every failure is reported the same way
        print(json.dumps({'error': type(err).__name__, 'message': str(err)}))
        sys.exit(1)
    print(json.dumps(values))


main()
