#!/usr/bin/python3
"""Drives glance_store's multi-backend API from the same INI file @store reads.

The reference peer for @store's interoperability tests and benchmarks. Every
command prints one JSON object on stdout; errors print {"error": <exception
class name>, "message": ...} and exit 1.

    glance_peer.py --config FILE add BACKEND IMAGE_ID PATH [--hash sha512]
    glance_peer.py --config FILE get URI [--backend ID] [--out PATH] [--offset N] [--chunk-size N]
    glance_peer.py --config FILE size URI --backend ID
    glance_peer.py --config FILE delete URI [--backend ID]
    glance_peer.py options                      # every option each driver registers

Run it with Debian's /usr/bin/python3 (python3-glance-store).
"""
import argparse
import hashlib
import json
import resource
import sys
import time

from oslo_config import cfg

import glance_store
from glance_store import exceptions, multi_backend

READ_SIZE = 1024 * 1024


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def configure(config_file):
    conf = cfg.CONF
    conf.register_opt(cfg.DictOpt('enabled_backends'))
    conf(args=[], default_config_files=[config_file], project='glance-peer')
    glance_store.register_store_opts(conf)
    glance_store.create_multi_stores(conf)
    return conf


def command_add(conf, args):
    started = time.monotonic()
    with open(args.path, 'rb') as source:
        source.seek(0, 2)
        size = source.tell()
        source.seek(0)
        location, written, checksum, multihash, metadata = multi_backend.add_with_multihash(
            conf, args.image_id, source, size, args.backend, args.hash)
    return {'location': location, 'size': written, 'checksum': checksum,
            'multihash': multihash, 'metadata': metadata,
            'seconds': time.monotonic() - started}


def command_get(conf, args):
    started = time.monotonic()
    data, size = multi_backend.get(args.uri, args.backend, offset=args.offset,
                                   chunk_size=args.chunk_size)
    md5 = hashlib.md5()
    sha512 = hashlib.sha512()
    total = 0
    out = open(args.out, 'wb') if args.out else None
    try:
        for chunk in data:
            total += len(chunk)
            if args.hash:
                md5.update(chunk)
                sha512.update(chunk)
            if out:
                out.write(chunk)
    finally:
        if out:
            out.close()
    result = {'size': size, 'bytes': total, 'seconds': time.monotonic() - started}
    if args.hash:
        result.update(checksum=md5.hexdigest(), multihash=sha512.hexdigest())
    return result


def command_size(conf, args):
    return {'size': multi_backend.get_size_from_uri_and_backend(args.uri, args.backend)}


def command_delete(conf, args):
    multi_backend.delete(args.uri, args.backend)
    return {'deleted': args.uri}


def command_options(_conf, _args):
    """Every option each driver type registers: name, type, default, secret."""
    listing = {}
    for driver in ('file', 'http', 'rbd', 's3', 'swift', 'cinder', 'vmware'):
        driver_cls = multi_backend._load_multi_store(None, driver, False)
        options = getattr(driver_cls, 'OPTIONS', None) or []
        listing[driver] = [{
            'name': opt.name,
            'type': type(opt).__name__,
            'default': opt.default if isinstance(opt.default, (str, int, float, bool, list, dict, type(None))) else str(opt.default),
            'secret': bool(getattr(opt, 'secret', False)),
            'min': getattr(getattr(opt, 'type', None), 'min', None),
            'max': getattr(getattr(opt, 'type', None), 'max', None),
        } for opt in options]
    return listing


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config')
    sub = parser.add_subparsers(dest='command', required=True)
    add = sub.add_parser('add')
    add.add_argument('backend')
    add.add_argument('image_id')
    add.add_argument('path')
    add.add_argument('--hash', default='sha512')
    get = sub.add_parser('get')
    get.add_argument('uri')
    get.add_argument('--backend')
    get.add_argument('--out')
    get.add_argument('--offset', type=int, default=0)
    get.add_argument('--chunk-size', type=int)
    get.add_argument('--no-hash', dest='hash', action='store_false')
    size = sub.add_parser('size')
    size.add_argument('uri')
    size.add_argument('--backend', required=True)
    delete = sub.add_parser('delete')
    delete.add_argument('uri')
    delete.add_argument('--backend')
    sub.add_parser('options')
    args = parser.parse_args()

    try:
        conf = configure(args.config) if args.command != 'options' else None
        result = globals()['command_' + args.command](conf, args)
    except exceptions.GlanceStoreException as err:
        print(json.dumps({'error': type(err).__name__, 'message': str(err)}))
        return 1
    result['peakRssMiB'] = peak_rss_mib()
    print(json.dumps(result))
    return 0


if __name__ == '__main__':
    sys.exit(main())
