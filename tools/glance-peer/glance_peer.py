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
    glance_peer.py --config FILE stores         # each backend's url_prefix and write access
    glance_peer.py --config FILE owners URI     # backends whose url_prefix starts URI (Glance's store_utils)
    glance_peer.py hashes                       # hashlib.algorithms_available (glance_store's accepted names)
    glance_peer.py --config FILE acls URI --backend ID [--public] [--read T,..] [--write T,..]

--context passes add, get, size, delete and acls a request context, as Glance
does for a multi-tenant swift store: its token from GLANCE_PEER_AUTH_TOKEN, and
GLANCE_PEER_PROJECT_ID and GLANCE_PEER_SERVICE_CATALOG (JSON) if set. From the
environment, never argv, where ps would show the token.

--single-store uses glance_store's legacy single-store API instead (backend.py:
[glance_store] stores/default_store, no enabled_backends) for add, get, size and
delete; the BACKEND of add is then ignored (default_store decides).

Run it with Debian's /usr/bin/python3 (python3-glance-store).
"""
import argparse
import hashlib
import json
import os
import resource
import sys
import time

from oslo_config import cfg

import glance_store
from glance_store import capabilities, exceptions, location, multi_backend

READ_SIZE = 1024 * 1024


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def configure_single_store(config_file):
    conf = cfg.CONF
    conf(args=[], default_config_files=[config_file], project='glance-peer')
    glance_store.register_opts(conf)
    glance_store.create_stores(conf)
    glance_store.verify_default_store()
    return conf


def configure(config_file):
    conf = cfg.CONF
    conf.register_opt(cfg.DictOpt('enabled_backends'))
    conf(args=[], default_config_files=[config_file], project='glance-peer')
    glance_store.register_store_opts(conf)
    glance_store.create_multi_stores(conf)
    return conf


class RequestContext:
    """What glance_store's multi-tenant swift store reads of Glance's request context."""

    def __init__(self, environ):
        self.auth_token = environ['GLANCE_PEER_AUTH_TOKEN']
        self.project_id = environ.get('GLANCE_PEER_PROJECT_ID')
        self.user_id = None
        # glance_store refuses a context without a catalog even when
        # swift_store_endpoint makes it unused.
        self.service_catalog = json.loads(environ.get('GLANCE_PEER_SERVICE_CATALOG', '[]'))


def command_add(conf, args):
    started = time.monotonic()
    with open(args.path, 'rb') as source:
        source.seek(0, 2)
        size = source.tell()
        source.seek(0)
        if args.single_store:
            location, written, checksum, multihash, metadata = (
                glance_store.add_to_backend_with_multihash(
                    conf, args.image_id, source, size, args.hash))
        else:
            location, written, checksum, multihash, metadata = multi_backend.add_with_multihash(
                conf, args.image_id, source, size, args.backend, args.hash,
                context=args.context)
    return {'location': location, 'size': written, 'checksum': checksum,
            'multihash': multihash, 'metadata': metadata,
            'seconds': time.monotonic() - started}


def command_get(conf, args):
    started = time.monotonic()
    if args.single_store:
        data, size = glance_store.get_from_backend(args.uri, offset=args.offset,
                                                   chunk_size=args.chunk_size)
    else:
        data, size = multi_backend.get(args.uri, args.backend, offset=args.offset,
                                       chunk_size=args.chunk_size, context=args.context)
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
    if args.single_store:
        return {'size': glance_store.get_size_from_backend(args.uri)}
    return {'size': multi_backend.get_size_from_uri_and_backend(args.uri, args.backend,
                                                                context=args.context)}


def command_delete(conf, args):
    if args.single_store:
        glance_store.delete_from_backend(args.uri)
    else:
        multi_backend.delete(args.uri, args.backend, context=args.context)
    return {'deleted': args.uri}


def command_acls(_conf, args):
    """Glance's set_acls on a location: the image's sharing as its store records it."""
    multi_backend.set_acls_for_multi_store(
        args.uri, args.backend, public=args.public,
        read_tenants=args.read.split(',') if args.read else [],
        write_tenants=args.write.split(',') if args.write else [],
        context=args.context)
    return {'acls': args.uri}


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
            'choices': (list(getattr(opt.type, 'choices', None) or []) or None)
            if hasattr(opt, 'type') else None,
        } for opt in options]
    return listing


def _backends():
    """Every configured store instance by backend id (glance_store's scheme map)."""
    stores = {}
    for by_backend in location.SCHEME_TO_CLS_BACKEND_MAP.values():
        for backend_id, entry in by_backend.items():
            stores[backend_id] = entry['store']
    return stores


def command_stores(_conf, _args):
    """Each backend's url_prefix and whether it may add (after configure/configure_add)."""
    return {'stores': {
        backend_id: {
            'urlPrefix': store.url_prefix,
            'writable': store.is_capable(capabilities.BitMasks.WRITE_ACCESS),
        } for backend_id, store in _backends().items()}}


def command_owners(_conf, args):
    """Backends Glance's store_utils would attach to a legacy location: those whose
    url_prefix starts the URI, among the stores of its scheme (Glance takes the first)."""
    scheme = args.uri.split(':', 1)[0]
    by_backend = location.SCHEME_TO_CLS_BACKEND_MAP.get(scheme, {})
    return {'owners': [
        backend_id for backend_id, entry in by_backend.items()
        if entry['store'].url_prefix and args.uri.startswith(entry['store'].url_prefix)]}


def command_hashes(_conf, _args):
    """The names glance_store accepts as hashing_algo."""
    return {'algorithms': sorted(hashlib.algorithms_available)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--config')
    parser.add_argument('--single-store', action='store_true')
    parser.add_argument('--context', action='store_true')
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
    size.add_argument('--backend')
    delete = sub.add_parser('delete')
    delete.add_argument('uri')
    delete.add_argument('--backend')
    sub.add_parser('options')
    sub.add_parser('stores')
    owners = sub.add_parser('owners')
    owners.add_argument('uri')
    sub.add_parser('hashes')
    acls = sub.add_parser('acls')
    acls.add_argument('uri')
    acls.add_argument('--backend', required=True)
    acls.add_argument('--public', action='store_true')
    acls.add_argument('--read')
    acls.add_argument('--write')
    args = parser.parse_args()

    try:
        args.context = RequestContext(os.environ) if args.context else None
        if args.command in ('options', 'hashes'):
            conf = None
        elif args.single_store:
            conf = configure_single_store(args.config)
        else:
            conf = configure(args.config)
        result = globals()['command_' + args.command](conf, args)
    except Exception as err:  # noqa: BLE001 - glance_store also lets ValueError/TypeError escape
        print(json.dumps({'error': type(err).__name__, 'message': str(err)}))
        return 1
    result['peakRssMiB'] = peak_rss_mib()
    print(json.dumps(result))
    return 0


if __name__ == '__main__':
    sys.exit(main())
