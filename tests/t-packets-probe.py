"""Probes for tests/t-packets, run inside a netns with /usr/bin/python3: a command line over the
end-to-end harness's tests/e2e/netprobe.py, used in the caller's own namespace.

  serve PORTS...      listen on TCP and UDP [::]:PORT (both families) and echo; prints
                      "ready" once every socket listens
  tcp HOST PORT       connect, send one byte, expect the echo within 1 s: prints
                      open/blocked/refused
  udp HOST PORT       send a datagram, expect the echo within 1 s: prints
                      open/blocked/refused
  sctp-listen PORT    raw IPv4 socket: after "ready", prints the source of every SCTP packet to
                      PORT, followed by " not-init" unless it is an INIT with a valid CRC32c;
                      the kernel has no SCTP stack, raw sockets still see them
  sctp-send HOST PORT one SCTP INIT chunk (valid CRC32c) over a raw IPv4 socket
"""
import os
import random
import socket
import struct
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "e2e"))
sys.dont_write_bytecode = True

import netprobe  # noqa: E402


def serve(ports):
    listeners = netprobe.PodListeners("serve", None, ["::"])
    for p in ports:
        listeners.ensure("TCP", p)
        listeners.ensure("UDP", p)
    if listeners.errors:
        sys.exit("serve: " + "; ".join(listeners.errors))
    print("ready", flush=True)
    threading.Event().wait()  # the listeners' thread serves until the process is killed


def verdict(protocol, host, port):
    ok, what = netprobe.probe(None, protocol, host, port)
    if ok:
        return "open"
    return "refused" if what == "ECONNREFUSED" else "blocked"


def sctp_send(host, port):
    pkt = netprobe.sctp_init_packet(40000, port, random.randrange(1, 1 << 32))
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, netprobe.IPPROTO_SCTP) as s:
        s.sendto(pkt, (host, 0))
    print("sent")


def sctp_listen(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, netprobe.IPPROTO_SCTP)
    print("ready", flush=True)
    while True:
        data, peer = s.recvfrom(2048)
        pkt = data[(data[0] & 0x0F) * 4:]  # raw IPv4 sockets see the IP header
        if len(pkt) >= 4 and struct.unpack("!H", pkt[2:4])[0] == port:
            init = netprobe.sctp_parse_init(pkt)
            print(peer[0] if init else peer[0] + " not-init", flush=True)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "serve":
        serve([int(p) for p in sys.argv[2:]])
    elif cmd in ("tcp", "udp"):
        print(verdict(cmd.upper(), sys.argv[2], int(sys.argv[3])))
    elif cmd == "sctp-listen":
        sctp_listen(int(sys.argv[2]))
    elif cmd == "sctp-send":
        sctp_send(sys.argv[2], int(sys.argv[3]))
    else:
        sys.exit("unknown command %r" % cmd)
