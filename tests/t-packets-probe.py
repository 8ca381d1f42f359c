"""Probes for tests/t-packets, run inside a netns with /usr/bin/python3: a command line over the
end-to-end harness's tests/e2e/netprobe.py, used in the caller's own namespace.

  serve PORTS...      listen on TCP and UDP [::]:PORT (both families) and echo; prints
                      "ready" once every socket listens
  serve-on ADDRS PORTS...
                      the same on the comma-separated ADDRS only, so that UDP answers come
                      from the address asked (not the one the route to the peer prefers)
  tcp HOST PORT       connect, send one byte, expect the echo within 1 s: prints
                      open/blocked/refused
  udp HOST PORT       send a datagram, expect the echo within 1 s: prints
                      open/blocked/refused
  sctp-listen PORT    raw IPv4 socket: after "ready", prints the source of every SCTP packet to
                      PORT, followed by " not-init" unless it is an INIT with a valid CRC32c;
                      the kernel has no SCTP stack, raw sockets still see them
  sctp-send HOST PORT one SCTP INIT chunk (valid CRC32c) over a raw IPv4 socket
  icmpv6-sniff IF TYPE SRC [BYTES_HEX]
                      AF_PACKET on IF: after "ready", waits up to 5 s for an ICMPv6 message of
                      TYPE from SRC (whose body holds BYTES_HEX, if given); prints seen/none
  mld-join IF GROUP SECONDS
                      joins GROUP on IF (the kernel sends MLD reports), holds it SECONDS
  mld-query IF        an MLDv2 general query to ff02::1 (hop limit 1, router alert)
  ra IF PREFIX        a router advertisement to ff02::1: default router for 1800 s, PREFIX/64
                      on-link and autonomous (SLAAC)
  redirect IF TO DEST TARGET TARGET_MAC
                      a redirect to TO: reach DEST through TARGET (link-local, at TARGET_MAC)
"""
import os
import random
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "e2e"))
sys.dont_write_bytecode = True

import netprobe  # noqa: E402


def serve(ports, addrs=("::",)):
    listeners = netprobe.PodListeners("serve", None, list(addrs))
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


ETH_P_IPV6 = 0x86DD
IPV6_HOPOPTS = 54
ICMPV6_EXT = {0, 43, 60}  # hop-by-hop, routing, destination options before ICMPv6 (58)


def icmpv6_of(frame):
    """(source, type, body) of an Ethernet frame holding ICMPv6, else None."""
    if len(frame) < 54 or struct.unpack("!H", frame[12:14])[0] != ETH_P_IPV6:
        return None
    ip = frame[14:]
    nxt, off = ip[6], 40
    while nxt in ICMPV6_EXT and len(ip) >= off + 8:
        nxt, off = ip[off], off + (ip[off + 1] + 1) * 8
    if nxt != 58 or len(ip) < off + 4:
        return None
    return socket.inet_ntop(socket.AF_INET6, ip[8:24]), ip[off], ip[off:]


def icmpv6_sniff(ifname, want_type, src, needle):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_IPV6))
    s.bind((ifname, 0))
    s.settimeout(0.2)
    print("ready", flush=True)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            frame = s.recv(4096)
        except socket.timeout:
            continue
        m = icmpv6_of(frame)
        if m and m[1] == want_type and m[0] == src and needle in m[2]:
            print("seen", flush=True)
            return
    print("none", flush=True)


def mld_join(ifname, group, seconds):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    mreq = socket.inet_pton(socket.AF_INET6, group) + struct.pack("@I", socket.if_nametoindex(ifname))
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
    print("joined", flush=True)
    time.sleep(seconds)


def icmpv6_socket(ifname, hops):
    s = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, hops)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, hops)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
    return s


def send_icmpv6(ifname, hops, dst, msg, hopopts=None):
    """The kernel fills in the ICMPv6 checksum of a raw ICMPv6 socket."""
    with icmpv6_socket(ifname, hops) as s:
        if hopopts:
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_HOPOPTS, hopopts)
        s.sendto(msg, (dst, 0, 0, socket.if_nametoindex(ifname)))
    print("sent")


def mld_query(ifname):
    # type 130, max response 100 ms, general (group ::), S/QRV 2, QQIC 125, no sources
    msg = struct.pack("!BBHHH16sBBH", 130, 0, 0, 100, 0, bytes(16), 2, 125, 0)
    router_alert = bytes([0, 0, 5, 2, 0, 0, 1, 0])  # next header, length 0, option, PadN
    send_icmpv6(ifname, 1, "ff02::1", msg, router_alert)


def ra(ifname, prefix):
    # type 134, cur hop limit 64, router lifetime 1800 s, no reachable/retrans timers
    msg = struct.pack("!BBHBBHII", 134, 0, 0, 64, 0, 1800, 0, 0)
    # prefix information: /64, on-link + autonomous, valid 1 day, preferred 1 h
    msg += struct.pack("!BBBBIII16s", 3, 4, 64, 0xC0, 86400, 3600, 0,
                       socket.inet_pton(socket.AF_INET6, prefix))
    send_icmpv6(ifname, 255, "ff02::1", msg)


def redirect(ifname, to, dest, target, target_mac):
    msg = struct.pack("!BBHI16s16s", 137, 0, 0, 0, socket.inet_pton(socket.AF_INET6, target),
                      socket.inet_pton(socket.AF_INET6, dest))
    msg += struct.pack("!BB6s", 2, 1, bytes.fromhex(target_mac.replace(":", "")))
    send_icmpv6(ifname, 255, to, msg)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "serve":
        serve([int(p) for p in sys.argv[2:]])
    elif cmd == "serve-on":
        serve([int(p) for p in sys.argv[3:]], sys.argv[2].split(","))
    elif cmd in ("tcp", "udp"):
        print(verdict(cmd.upper(), sys.argv[2], int(sys.argv[3])))
    elif cmd == "sctp-listen":
        sctp_listen(int(sys.argv[2]))
    elif cmd == "sctp-send":
        sctp_send(sys.argv[2], int(sys.argv[3]))
    elif cmd == "icmpv6-sniff":
        needle = bytes.fromhex(sys.argv[5]) if len(sys.argv) > 5 else b""
        icmpv6_sniff(sys.argv[2], int(sys.argv[3]), sys.argv[4], needle)
    elif cmd == "mld-join":
        mld_join(sys.argv[2], sys.argv[3], float(sys.argv[4]))
    elif cmd == "mld-query":
        mld_query(sys.argv[2])
    elif cmd == "ra":
        ra(sys.argv[2], sys.argv[3])
    elif cmd == "redirect":
        redirect(*sys.argv[2:7])
    else:
        sys.exit("unknown command %r" % cmd)
