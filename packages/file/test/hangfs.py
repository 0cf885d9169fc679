#!/usr/bin/env python3
"""A FUSE filesystem that can stop answering, for the file driver's timeout tests.

It speaks the kernel's FUSE protocol on /dev/fuse directly (no libfuse): a flat,
in-memory directory of regular files. Commands on stdin, one per line:

  stall OP...   hold every request of these kinds unanswered (op names below,
                or "all"), as a dead NFS server would: the caller's thread
                waits in the kernel
  resume        answer everything held and stop holding
  exit          unmount and leave (pending requests fail with ENOTCONN)

It prints "ready" once mounted and "held OP" each time it holds a request.
Needs root (mount(2)) and /dev/fuse. Usage: hangfs.py MOUNTPOINT
"""
import ctypes
import errno
import os
import select
import struct
import sys
import time

OPS = {
    1: "lookup", 2: "forget", 3: "getattr", 4: "setattr", 9: "mkdir", 10: "unlink",
    12: "rename", 13: "link", 14: "open", 15: "read", 16: "write", 17: "statfs",
    18: "release", 20: "fsync", 22: "getxattr", 23: "listxattr", 25: "flush",
    26: "init", 27: "opendir", 28: "readdir", 29: "releasedir", 34: "access",
    35: "create", 36: "interrupt", 38: "destroy", 42: "batch_forget", 45: "rename2",
}
NO_REPLY = {"forget", "batch_forget", "interrupt"}
FOPEN_DIRECT_IO = 1
S_IFDIR, S_IFREG = 0o040000, 0o100000

libc = ctypes.CDLL(None, use_errno=True)


class Node:
    def __init__(self, ino, mode, data=b""):
        self.ino, self.mode, self.data, self.nlink = ino, mode, bytearray(data), 1


class HangFs:
    def __init__(self, mountpoint):
        self.mountpoint = mountpoint
        self.fd = os.open("/dev/fuse", os.O_RDWR)
        opts = f"fd={self.fd},rootmode=40000,user_id=0,group_id=0,allow_other".encode()
        if libc.mount(b"hangfs", mountpoint.encode(), b"fuse.hangfs", 0, opts) != 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e), mountpoint)
        self.root = Node(1, S_IFDIR | 0o755)
        self.root.nlink = 2
        self.nodes = {1: self.root}
        self.names = {}  # name -> ino, in the root (the only directory)
        self.next_ino = 2
        self.stalled = set()
        self.held = []

    # -- replies --------------------------------------------------------------
    def reply(self, unique, error=0, body=b""):
        try:
            os.write(self.fd, struct.pack("<IiQ", 16 + len(body), -error, unique) + body)
        except OSError as e:  # the caller was interrupted meanwhile
            if e.errno != errno.ENOENT:
                raise

    def attr(self, node):
        now = int(time.time())
        size = len(node.data)
        return struct.pack(
            "<QQQQQQIIIIIIIIII", node.ino, size, (size + 511) // 512, now, now, now,
            0, 0, 0, node.mode, node.nlink, 0, 0, 0, 4096, 0)

    def entry(self, node):
        # Zero validity: every lookup and stat asks again, so a stall is seen at once.
        return struct.pack("<QQQQII", node.ino, 0, 0, 0, 0, 0) + self.attr(node)

    def attr_out(self, node):
        return struct.pack("<QII", 0, 0, 0) + self.attr(node)

    # -- requests -------------------------------------------------------------
    def handle(self, op, unique, nodeid, body):
        node = self.nodes.get(nodeid)
        name = body.split(b"\0", 1)[0].decode(errors="surrogateescape")
        if op == "init":
            major, minor = struct.unpack_from("<II", body)
            out = struct.pack("<IIIIHHIIHHII", 7, min(minor, 31), 1 << 20, 0, 16, 12,
                              1 << 20, 1, 256, 0, 0, 0) + b"\0" * 24
            return self.reply(unique, 0, out)
        if op == "lookup":
            ino = self.names.get(name) if nodeid == 1 else None
            if ino is None:
                return self.reply(unique, errno.ENOENT)
            return self.reply(unique, 0, self.entry(self.nodes[ino]))
        if node is None:
            return self.reply(unique, errno.ENOENT)
        if op == "getattr":
            return self.reply(unique, 0, self.attr_out(node))
        if op == "setattr":
            valid, _pad, _fh, size = struct.unpack_from("<IIQQ", body)
            mode = struct.unpack_from("<I", body, 68)[0]
            if valid & (1 << 3):  # FATTR_SIZE
                del node.data[size:]
                node.data.extend(b"\0" * (size - len(node.data)))
            if valid & 1:  # FATTR_MODE
                node.mode = (node.mode & ~0o7777) | (mode & 0o7777)
            return self.reply(unique, 0, self.attr_out(node))
        if op in ("open", "opendir"):
            return self.reply(unique, 0, struct.pack("<QII", nodeid, FOPEN_DIRECT_IO, 0))
        if op == "create":
            flags, mode = struct.unpack_from("<II", body)
            name = body[16:].split(b"\0", 1)[0].decode(errors="surrogateescape")
            if name in self.names:
                return self.reply(unique, errno.EEXIST)
            new = Node(self.next_ino, S_IFREG | (mode & 0o7777))
            self.next_ino += 1
            self.nodes[new.ino] = new
            self.names[name] = new.ino
            return self.reply(
                unique, 0, self.entry(new) + struct.pack("<QII", new.ino, FOPEN_DIRECT_IO, 0))
        if op == "read":
            _fh, offset, size = struct.unpack_from("<QQI", body)
            if node.mode & S_IFDIR:
                return self.reply(unique, 0, b"")  # an empty directory listing
            return self.reply(unique, 0, bytes(node.data[offset:offset + size]))
        if op == "readdir":
            _fh, offset, size = struct.unpack_from("<QQI", body)
            entries = [(".", 1, S_IFDIR), ("..", 1, S_IFDIR)] + [
                (n, i, self.nodes[i].mode) for n, i in sorted(self.names.items())]
            out = b""
            for index in range(offset, len(entries)):
                name, ino, mode = entries[index]
                raw = name.encode(errors="surrogateescape")
                dirent = struct.pack("<QQII", ino, index + 1, len(raw), mode >> 12) + raw
                dirent += b"\0" * (-len(dirent) % 8)
                if len(out) + len(dirent) > size:
                    break
                out += dirent
            return self.reply(unique, 0, out)
        if op == "write":
            _fh, offset, size = struct.unpack_from("<QQI", body)
            data = body[40:40 + size]
            if len(node.data) < offset:
                node.data.extend(b"\0" * (offset - len(node.data)))
            node.data[offset:offset + size] = data
            return self.reply(unique, 0, struct.pack("<II", size, 0))
        if op == "link":
            (old,) = struct.unpack_from("<Q", body)
            name = body[8:].split(b"\0", 1)[0].decode(errors="surrogateescape")
            if name in self.names:
                return self.reply(unique, errno.EEXIST)
            target = self.nodes[old]
            target.nlink += 1
            self.names[name] = old
            return self.reply(unique, 0, self.entry(target))
        if op == "unlink":
            ino = self.names.pop(name, None)
            if ino is None:
                return self.reply(unique, errno.ENOENT)
            self.nodes[ino].nlink -= 1
            return self.reply(unique)
        if op == "statfs":
            return self.reply(unique, 0, struct.pack(
                "<QQQQQIII", 1 << 20, 1 << 19, 1 << 19, 1000, 900, 4096, 255, 4096) + b"\0" * 28)
        if op in ("release", "releasedir", "flush", "fsync", "access"):
            return self.reply(unique)
        if op == "mkdir":
            return self.reply(unique, errno.EEXIST)
        if op == "destroy":
            return self.reply(unique)
        return self.reply(unique, errno.ENOSYS)

    def command(self, line):
        words = line.split()
        if not words:
            return True
        if words[0] == "stall":
            self.stalled.update(words[1:])
        elif words[0] == "resume":
            self.stalled.clear()
            held, self.held = self.held, []
            for request in held:
                self.handle(*request)
        elif words[0] == "exit":
            return False
        print("ok", words[0], flush=True)
        return True

    def run(self):
        print("ready", flush=True)
        stdin = sys.stdin.fileno()
        pending = b""
        while True:
            readable, _, _ = select.select([self.fd, stdin], [], [])
            if stdin in readable:
                chunk = os.read(stdin, 4096)
                if not chunk:
                    return
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    if not self.command(line.decode()):
                        return
            if self.fd in readable:
                try:
                    request = os.read(self.fd, (1 << 20) + 4096)
                except OSError as e:
                    if e.errno in (errno.ENOENT, errno.EINTR, errno.EAGAIN):
                        continue
                    if e.errno == errno.ENODEV:  # unmounted
                        return
                    raise
                _len, opcode, unique, nodeid = struct.unpack_from("<IIQQ", request)
                op = OPS.get(opcode, str(opcode))
                if op in NO_REPLY:
                    continue
                args = (op, unique, nodeid, request[40:])
                if op != "init" and ("all" in self.stalled or op in self.stalled):
                    self.held.append(args)
                    print("held", op, flush=True)
                else:
                    self.handle(*args)

    def close(self):
        libc.umount2(self.mountpoint.encode(), 2)  # MNT_DETACH
        os.close(self.fd)


if __name__ == "__main__":
    fs = HangFs(sys.argv[1])
    try:
        fs.run()
    finally:
        fs.close()
