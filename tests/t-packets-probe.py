"""Probes for tests/t-packets, run inside a netns with /usr/bin/python3.

  serve PORTS...      listen on TCP and UDP [::]:PORT (both families) and echo; prints
                      "ready" once every socket listens
  tcp HOST PORT       connect (1 s timeout), send, expect the echo: prints open/blocked/refused
  udp HOST PORT       send a datagram, expect the echo within 1 s: prints open/blocked
  sctp-listen PORT    raw IPv4 socket: prints the source of every SCTP packet to PORT (after
                      "ready"); the kernel has no SCTP stack, raw sockets still see them
  sctp-send HOST PORT one SCTP INIT chunk (valid CRC32c) over a raw IPv4 socket
"""
import select
import socket
import sys


def serve(ports):
    socks = []
    for p in ports:
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            s = socket.socket(socket.AF_INET6, kind)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
            s.bind(("::", p))
            if kind == socket.SOCK_STREAM:
                s.listen(16)
            socks.append(s)
    print("ready", flush=True)
    while True:
        ready, _, _ = select.select(socks, [], [])
        for s in ready:
            if s.type == socket.SOCK_STREAM:
                c, _ = s.accept()
                c.settimeout(1)
                try:
                    c.sendall(c.recv(64))
                except OSError:
                    pass
                c.close()
            else:
                data, peer = s.recvfrom(64)
                s.sendto(data, peer)


def probe_tcp(host, port):
    try:
        c = socket.create_connection((host, port), timeout=1)
        c.sendall(b"ping")
        ok = c.recv(4) == b"ping"
        c.close()
        return "open" if ok else "blocked"
    except ConnectionRefusedError:
        return "refused"
    except OSError:
        return "blocked"


def probe_udp(host, port):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(1)
    try:
        s.sendto(b"ping", (host, port))
        data, _ = s.recvfrom(64)
        return "open" if data == b"ping" else "blocked"
    except OSError:
        return "blocked"


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def sctp_send(host, port):
    import struct
    init = struct.pack("!BBHIIHHI", 1, 0, 20, 0x12345678, 65535, 1, 1, 1)
    hdr = struct.pack("!HHII", 40000, port, 0, 0)
    crc = crc32c(hdr + init)
    pkt = hdr[:8] + struct.pack("<I", crc) + init
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 132)
    s.sendto(pkt, (host, 0))
    print("sent")


def sctp_listen(port):
    import struct
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 132)
    print("ready", flush=True)
    while True:
        data, peer = s.recvfrom(2048)
        ihl = (data[0] & 0x0F) * 4
        if len(data) >= ihl + 4 and struct.unpack("!H", data[ihl + 2:ihl + 4])[0] == port:
            print(peer[0], flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve([int(p) for p in sys.argv[2:]])
    elif sys.argv[1] == "tcp":
        print(probe_tcp(sys.argv[2], int(sys.argv[3])))
    elif sys.argv[1] == "udp":
        print(probe_udp(sys.argv[2], int(sys.argv[3])))
    elif sys.argv[1] == "sctp-listen":
        sctp_listen(int(sys.argv[2]))
    elif sys.argv[1] == "sctp-send":
        sctp_send(sys.argv[2], int(sys.argv[3]))
