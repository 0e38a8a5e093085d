#!/usr/bin/env python3
"""Build the example packets (raw Ethernet frames) used by examples/cases.json.

Every frame is assembled by hand with :mod:`struct`, with correct IPv4 header checksums and
TCP/UDP/ICMP checksums (over the IPv4 or IPv6 pseudo-header), except where a frame is meant to
be broken (``ipv4_bad_csum.bin``, ``runt.bin``). The output is deterministic: running the script
again rewrites byte-identical files, one ``NAME.bin`` per frame, plus ``sample.pcap`` holding a
few of them (libpcap format, LINKTYPE_ETHERNET, fixed timestamps).

Usage: python3 examples/packets/make_packets.py [OUTDIR]   (default: this script's directory)
"""

from __future__ import annotations

import ipaddress
import struct
import sys
from pathlib import Path

MAC_A = bytes.fromhex("020000000001")  # locally administered unicast addresses
MAC_B = bytes.fromhex("020000000002")
ETH_P_IP, ETH_P_IPV6, ETH_P_ARP = 0x0800, 0x86DD, 0x0806
IPPROTO_ICMP, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_GRE = 1, 6, 17, 47
IPPROTO_HOPOPTS, IPPROTO_DSTOPTS = 0, 60


def csum16(data: bytes) -> int:
    """The Internet checksum (RFC 1071): one's complement of the one's complement sum."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ip4(addr: str) -> bytes:
    return ipaddress.IPv4Address(addr).packed


def ip6(addr: str) -> bytes:
    return ipaddress.IPv6Address(addr).packed


def eth(ethertype: int, payload: bytes, dst: bytes = MAC_B, src: bytes = MAC_A) -> bytes:
    return dst + src + struct.pack("!H", ethertype) + payload


def ipv4(
    src: str,
    dst: str,
    proto: int,
    payload: bytes,
    *,
    ttl: int = 64,
    ident: int = 0x1234,
    options: bytes = b"",
    bad_csum: bool = False,
) -> bytes:
    assert len(options) % 4 == 0
    ihl = 5 + len(options) // 4
    total = ihl * 4 + len(payload)
    hdr = struct.pack(
        "!BBHHHBBH4s4s", 0x40 | ihl, 0, total, ident, 0x4000, ttl, proto, 0, ip4(src), ip4(dst)
    )
    hdr += options
    csum = csum16(hdr)
    if bad_csum:
        csum ^= 0x5A5A
    return hdr[:10] + struct.pack("!H", csum) + hdr[12:] + payload


def pseudo4(src: str, dst: str, proto: int, length: int) -> bytes:
    return ip4(src) + ip4(dst) + struct.pack("!BBH", 0, proto, length)


def pseudo6(src: str, dst: str, proto: int, length: int) -> bytes:
    return ip6(src) + ip6(dst) + struct.pack("!I3xB", length, proto)


def udp(sport: int, dport: int, payload: bytes, pseudo: bytes) -> bytes:
    length = 8 + len(payload)
    seg = struct.pack("!HHHH", sport, dport, length, 0) + payload
    csum = csum16(pseudo + seg) or 0xFFFF  # 0 means "no checksum" in UDP
    return seg[:6] + struct.pack("!H", csum) + seg[8:]


def tcp(sport: int, dport: int, seq: int, flags: int, payload: bytes, pseudo: bytes) -> bytes:
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 64240, 0, 0) + payload
    csum = csum16(pseudo + seg)
    return seg[:16] + struct.pack("!H", csum) + seg[18:]


def icmp_echo(ident: int, seq: int, payload: bytes) -> bytes:
    msg = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + payload
    return msg[:2] + struct.pack("!H", csum16(msg)) + msg[4:]


def dns_query(txid: int, name: str, qtype: int = 1) -> bytes:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", txid, 0x0100, 1, 0, 0, 0) + labels + struct.pack("!HH", qtype, 1)


def ipv4_udp(
    src: str,
    dst: str,
    sport: int,
    dport: int,
    payload: bytes,
    *,
    ttl: int = 64,
    options: bytes = b"",
    bad_csum: bool = False,
) -> bytes:
    seg = udp(sport, dport, payload, pseudo4(src, dst, IPPROTO_UDP, 8 + len(payload)))
    ip = ipv4(src, dst, IPPROTO_UDP, seg, ttl=ttl, options=options, bad_csum=bad_csum)
    return eth(ETH_P_IP, ip)


def ipv4_tcp(src: str, dst: str, sport: int, dport: int, flags: int, payload: bytes) -> bytes:
    seg = tcp(
        sport, dport, 0x01020304, flags, payload, pseudo4(src, dst, IPPROTO_TCP, 20 + len(payload))
    )
    return eth(ETH_P_IP, ipv4(src, dst, IPPROTO_TCP, seg))


def ipv6_ext_udp(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    """IPv6 → Hop-by-Hop options (8 bytes) → Destination options (16 bytes) → UDP."""
    seg = udp(sport, dport, payload, pseudo6(src, dst, IPPROTO_UDP, 8 + len(payload)))
    # Each options header: next header, length in 8-octet units beyond the first, then PadN.
    hbh = struct.pack("!BB", IPPROTO_DSTOPTS, 0) + bytes([1, 4, 0, 0, 0, 0])
    dst_opts = struct.pack("!BB", IPPROTO_UDP, 1) + bytes([1, 12]) + bytes(12)
    body = hbh + dst_opts + seg
    hdr = struct.pack("!IHBB", 6 << 28, len(body), IPPROTO_HOPOPTS, 64) + ip6(src) + ip6(dst)
    return eth(ETH_P_IPV6, hdr + body)


def ipv6_long_chain(src: str, dst: str, count: int, payload: bytes) -> bytes:
    """IPv6 → ``count`` 8-byte Destination options headers → UDP to port 9000."""
    seg = udp(5000, 9000, payload, pseudo6(src, dst, IPPROTO_UDP, 8 + len(payload)))
    body = seg
    nxt = IPPROTO_UDP
    for _ in range(count):
        body = struct.pack("!BB", nxt, 0) + bytes([1, 4, 0, 0, 0, 0]) + body
        nxt = IPPROTO_DSTOPTS
    hdr = struct.pack("!IHBB", 6 << 28, len(body), nxt, 64) + ip6(src) + ip6(dst)
    return eth(ETH_P_IPV6, hdr + body)


def ipv6_udp(src: str, dst: str, sport: int, dport: int, payload: bytes) -> bytes:
    seg = udp(sport, dport, payload, pseudo6(src, dst, IPPROTO_UDP, 8 + len(payload)))
    hdr = struct.pack("!IHBB", 6 << 28, len(seg), IPPROTO_UDP, 64) + ip6(src) + ip6(dst)
    return eth(ETH_P_IPV6, hdr + seg)


def arp_request(sender: str, target: str) -> bytes:
    body = (
        struct.pack("!HHBBH", 1, ETH_P_IP, 6, 4, 1) + MAC_A + ip4(sender) + bytes(6) + ip4(target)
    )
    return eth(ETH_P_ARP, body, dst=b"\xff" * 6)


def build() -> dict[str, bytes]:
    """Every example packet, by file stem."""
    dns = dns_query(0xBEEF, "example.com")
    frames = {
        # TCP SYN 10.0.0.1:40000 -> 10.0.0.2:80
        "ipv4_tcp": ipv4_tcp("10.0.0.1", "10.0.0.2", 40000, 80, 0x02, b""),
        # TCP with a small HTTP request as payload, from another host
        "ipv4_tcp_http": ipv4_tcp(
            "192.168.1.20", "10.0.0.2", 51000, 80, 0x18, b"GET / HTTP/1.0\r\n\r\n"
        ),
        # TCP SYN to the telnet port 23, 10.0.0.4:40001 -> 10.0.0.2:23
        "ipv4_telnet": ipv4_tcp("10.0.0.4", "10.0.0.2", 40001, 23, 0x02, b""),
        # UDP 10.0.0.1:5000 -> 10.0.0.2:9000, 16 bytes of payload
        "ipv4_udp": ipv4_udp("10.0.0.1", "10.0.0.2", 5000, 9000, bytes(range(16))),
        # ICMP echo request 10.0.0.3 -> 10.0.0.2
        "ipv4_icmp": eth(
            ETH_P_IP, ipv4("10.0.0.3", "10.0.0.2", IPPROTO_ICMP, icmp_echo(7, 1, b"ping" * 8))
        ),
        # DNS query for example.com (A), 192.168.1.10:53000 -> 8.8.8.8:53
        "ipv4_dns": ipv4_udp("192.168.1.10", "8.8.8.8", 53000, 53, dns),
        # the same DNS query with 4 bytes of IPv4 options (IHL=6: NOP NOP NOP EOL)
        "ipv4_dns_options": ipv4_udp(
            "192.168.1.10", "8.8.8.8", 53000, 53, dns, options=b"\x01\x01\x01\x00"
        ),
        # UDP from port 53 (a DNS answer's direction): not a query to port 53
        "ipv4_udp_sport53": ipv4_udp("8.8.8.8", "192.168.1.10", 53, 53000, dns),
        # TTL 1: a router must not forward it
        "ipv4_ttl1": ipv4_udp("10.0.0.1", "10.0.0.2", 5000, 9000, b"last hop", ttl=1),
        # GRE (protocol 47) carrying nothing: an IPv4 protocol few programs handle
        "ipv4_gre": eth(
            ETH_P_IP, ipv4("10.0.0.5", "10.0.0.2", IPPROTO_GRE, struct.pack("!HH", 0, 0x0800))
        ),
        # IPv4 header checksum deliberately wrong
        "ipv4_bad_csum": ipv4_udp("10.0.0.1", "10.0.0.2", 5000, 9000, b"corrupt", bad_csum=True),
        # IPv6 UDP 2001:db8::1 -> 2001:db8::2
        "ipv6_udp": ipv6_udp("2001:db8::1", "2001:db8::2", 5000, 9000, b"hello v6"),
        # IPv6 with Hop-by-Hop and Destination options before UDP
        "ipv6_ext": ipv6_ext_udp("2001:db8::1", "2001:db8::2", 5000, 53, b"ext hdrs"),
        # IPv6 with 9 Destination options headers: longer than bounded_loop walks
        "ipv6_ext_long": ipv6_long_chain("2001:db8::1", "2001:db8::2", 9, b"deep"),
        # ARP who-has 10.0.0.2: not IP at all
        "arp": arp_request("10.0.0.1", "10.0.0.2"),
    }
    # A frame cut off inside the IPv4 header (Ethernet header + 6 bytes).
    frames["runt"] = frames["ipv4_udp"][:20]
    return frames


PCAP_MEMBERS = ["ipv4_tcp", "ipv4_udp", "ipv4_icmp", "ipv4_dns", "ipv6_udp", "arp"]


def pcap(frames: list[bytes]) -> bytes:
    """A libpcap file (microsecond timestamps, LINKTYPE_ETHERNET = 1)."""
    out = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for i, frame in enumerate(frames):
        out += struct.pack("<IIII", 1700000000 + i, 0, len(frame), len(frame)) + frame
    return out


def main(argv: list[str]) -> int:
    outdir = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent
    frames = build()
    for name, frame in frames.items():
        (outdir / f"{name}.bin").write_bytes(frame)
    (outdir / "sample.pcap").write_bytes(pcap([frames[n] for n in PCAP_MEMBERS]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
