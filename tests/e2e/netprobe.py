"""Real traffic between pod network namespaces, from inside the harness process.

A network namespace is a per-thread attribute on Linux and a socket stays in the namespace it was
created in, so a thread enters the pod's namespace only for the socket() call and returns at
once. Listeners (TCP and UDP echo, raw SCTP receivers) are served by one thread per pod; probes
run on any thread.
"""

import ctypes
import errno
import os
import random
import select
import socket
import struct
import threading
import time

CLONE_NEWNET = 0x40000000
IPPROTO_SCTP = 132
PROBE_TIMEOUT = 1.0  # a denial is "no success within 1 s"

_libc = ctypes.CDLL(None, use_errno=True)
_host_netns = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)


def _setns(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        e = ctypes.get_errno()
        raise OSError(e, "setns: " + os.strerror(e))


def socket_in(nspath, family, kind, proto=0):
    """A socket created inside the network namespace at nspath (None: the caller's own)."""
    if nspath is None:
        return socket.socket(family, kind, proto)
    fd = os.open(nspath, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(fd)
        try:
            return socket.socket(family, kind, proto)
        finally:
            _setns(_host_netns)
    finally:
        os.close(fd)


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


# SCTP (RFC 9260): common header, then one INIT chunk; CRC32c over the packet, little-endian.
def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC32C = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = _CRC32C[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def sctp_init_packet(sport, dport, tag):
    chunk = struct.pack("!BBHIIHHI", 1, 0, 20, tag, 65535, 10, 10, random.getrandbits(32))
    pkt = struct.pack("!HHII", sport, dport, 0, 0) + chunk
    return pkt[:8] + struct.pack("<I", crc32c(pkt)) + pkt[12:]


def sctp_parse_init(pkt):
    """(dport, initiate tag) of an SCTP packet whose first chunk is INIT with a valid CRC32c."""
    if len(pkt) < 32 or pkt[12] != 1:
        return None
    if struct.unpack("<I", pkt[8:12])[0] != crc32c(pkt[:8] + b"\0\0\0\0" + pkt[12:]):
        return None
    return struct.unpack("!H", pkt[2:4])[0], struct.unpack("!I", pkt[16:20])[0]


class PodListeners:
    """TCP and UDP echo listeners on each (protocol, port) and address of one pod ("::" listens
    on both families), and raw SCTP receivers that record every INIT they see. Served by one
    thread until close(); nspath None means the caller's own namespace."""

    def __init__(self, label, nspath, addrs):
        self.label = label
        self.nspath = nspath
        self.addrs = list(addrs)
        self.ports = set()  # (protocol, port)
        self.sctp_seen = set()  # (dport, tag)
        self.errors = []
        self._socks = {}  # fileno -> (role, socket)
        self._sctp_families = set()
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="listen " + label, daemon=True)
        self._thread.start()

    def ensure(self, protocol, port):
        """Listens on (protocol, port) on every address; errors are kept for the report."""
        with self._lock:
            if (protocol, port) in self.ports:
                return
            self.ports.add((protocol, port))
            new = []
            try:
                if protocol == "SCTP":  # one raw receiver per family sees every port
                    for fam in {family_of(a) for a in self.addrs} - self._sctp_families:
                        new.append(("sctp", socket_in(self.nspath, fam, socket.SOCK_RAW, IPPROTO_SCTP)))
                        self._sctp_families.add(fam)
                else:
                    kind = socket.SOCK_STREAM if protocol == "TCP" else socket.SOCK_DGRAM
                    for addr in self.addrs:
                        s = socket_in(self.nspath, family_of(addr), kind)
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                        if addr == "::":  # the wildcard serves IPv4 too, whatever the sysctl says
                            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                        s.bind((addr, port))
                        if kind == socket.SOCK_STREAM:
                            s.listen(64)
                        new.append(("tcp-listen" if kind == socket.SOCK_STREAM else "udp", s))
            except OSError as e:
                self.errors.append("%s %s/%d: %s" % (self.label, protocol, port, e))
            for role, s in new:
                s.setblocking(False)
                self._socks[s.fileno()] = (role, s)
        os.write(self._wake_w, b"x")

    def close(self):
        self._closed = True
        os.write(self._wake_w, b"x")
        self._thread.join(5)
        for _, s in self._socks.values():
            s.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _serve(self):
        while not self._closed:
            with self._lock:
                fds = list(self._socks)
            ready, _, _ = select.select(fds + [self._wake_r], [], [], 1.0)
            for fd in ready:
                if fd == self._wake_r:
                    try:
                        os.read(self._wake_r, 512)
                    except BlockingIOError:
                        pass
                    continue
                with self._lock:
                    entry = self._socks.get(fd)
                if entry:
                    try:
                        self._handle(fd, *entry)
                    except OSError:
                        pass

    def _handle(self, fd, role, s):
        if role == "tcp-listen":
            conn, _ = s.accept()
            conn.setblocking(False)
            with self._lock:
                self._socks[conn.fileno()] = ("tcp-conn", conn)
        elif role == "tcp-conn":
            data = s.recv(4096)
            if data:
                s.send(data)
            else:
                with self._lock:
                    del self._socks[fd]
                s.close()
        elif role == "udp":
            data, peer = s.recvfrom(4096)
            s.sendto(data, peer)
        elif role == "sctp":
            pkt = s.recv(65536)
            if s.family == socket.AF_INET:  # raw IPv4 sockets see the IP header, IPv6 ones do not
                pkt = pkt[(pkt[0] & 0x0F) * 4:]
            seen = sctp_parse_init(pkt)
            if seen:
                with self._lock:
                    self.sctp_seen.add(seen)

    def sctp_received(self, port, tag):
        with self._lock:
            return (port, tag) in self.sctp_seen


def probe(nspath, protocol, dst, port, src=None, listeners=None, timeout=PROBE_TIMEOUT):
    """One attempt from the namespace at nspath (None: the caller's own): (True, what) on
    success, (False, what) on none within timeout; what is the errno name (ECONNREFUSED, say)
    when the attempt failed on one. listeners is the to-pod's PodListeners (needed for SCTP)."""
    fam = family_of(dst)
    deadline = time.monotonic() + timeout
    try:
        if protocol == "TCP":
            return _probe_tcp(nspath, fam, dst, port, src, deadline)
        if protocol == "UDP":
            return _probe_udp(nspath, fam, dst, port, src, deadline)
        if protocol == "SCTP":
            return _probe_sctp(nspath, fam, dst, port, src, listeners, deadline)
        return False, "unknown protocol %r" % protocol
    except socket.timeout:
        return False, "no answer within %.1f s" % timeout
    except OSError as e:
        return False, "%s" % (errno.errorcode.get(e.errno, e.errno) if e.errno else e)


def judge(frm_nspath, to_nspath, protocol, dst, port, allowed, src=None, listeners=None):
    """One attempt at a connection expected allowed (or denied) from the namespace at frm_nspath
    to dst, the address of the pod at to_nspath: (holds, what). A denial is judged only after
    the listener answered the same probe from inside its own pod, so a dead listener is never
    taken for a drop; a failed allowed probe says whether the listener answers there."""
    if not allowed:
        ok, what = probe(to_nspath, protocol, dst, port, listeners=listeners)
        if not ok:
            return False, "the listener does not answer inside its own pod (%s)" % what
    ok, what = probe(frm_nspath, protocol, dst, port, src=src, listeners=listeners)
    if ok != allowed and not ok:
        self_ok, self_what = probe(to_nspath, protocol, dst, port, listeners=listeners)
        if not self_ok:
            what += "; the listener does not answer inside its own pod either (%s)" % self_what
    return ok == allowed, what


def _left(deadline):
    left = deadline - time.monotonic()
    if left <= 0:
        raise socket.timeout()
    return left


def _probe_tcp(nspath, fam, dst, port, src, deadline):
    with socket_in(nspath, fam, socket.SOCK_STREAM) as s:
        if src:
            s.bind((src, 0))
        s.settimeout(_left(deadline))
        s.connect((dst, port))
        byte = bytes([random.randrange(33, 127)])
        s.sendall(byte)
        s.settimeout(_left(deadline))
        got = s.recv(1)
        if got == byte:
            return True, "connected, 1 byte echoed"
        return False, "connected, but echo was %r" % got


def _probe_udp(nspath, fam, dst, port, src, deadline):
    token = os.urandom(12)
    with socket_in(nspath, fam, socket.SOCK_DGRAM) as s:
        if src:
            s.bind((src, 0))
        s.connect((dst, port))
        next_send = 0.0
        while True:
            now = time.monotonic()
            if now >= next_send:  # resend: a first datagram can be lost to neighbour resolution
                s.send(token)
                next_send = now + 0.3
            s.settimeout(min(_left(deadline), max(next_send - now, 0.01)))
            try:
                if s.recv(4096) == token:
                    return True, "datagram echoed"
            except socket.timeout:
                _left(deadline)


def _probe_sctp(nspath, fam, dst, port, src, listeners, deadline):
    if listeners is None:
        return False, "no SCTP receiver"
    tag = random.randrange(1, 1 << 32)
    pkt = sctp_init_packet(random.randrange(32768, 61000), port, tag)
    with socket_in(nspath, fam, socket.SOCK_RAW, IPPROTO_SCTP) as s:
        if src:
            s.bind((src, 0))
        next_send = 0.0
        while True:
            now = time.monotonic()
            if now >= next_send:
                s.sendto(pkt, (dst, 0))
                next_send = now + 0.3
            if listeners.sctp_received(port, tag):
                return True, "SCTP INIT received"
            _left(deadline)
            time.sleep(0.01)
