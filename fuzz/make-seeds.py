#!/usr/bin/env python3
"""Writes the hand-made seed inputs of fuzz/regressions/<target>/seed-* (run from the
repository's root). Crashes a fuzzer finds are kept beside them as crash-*; both are run by
the stable suite (testkit/tests/fuzz_regressions.rs) and start each fuzzer's corpus.
snapshot/seed-four-routes is `vrouter routes convert` of four routes (two families)."""
import bz2, gzip, random, struct

R = 'fuzz/regressions/'


def first_records(data, n):
    at = 0
    for _ in range(n):
        at += 12 + struct.unpack('>I', data[at + 8:at + 12])[0]
    return data[:at]


def unbz2(path):
    # The shipped RIB samples are the first megabyte of a bzip2 stream: read what is there.
    return bz2.BZ2Decompressor().decompress(open(path, 'rb').read())


def csum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('>%dH' % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff


def eth(dst, src, t):
    return dst + src + struct.pack('>H', t)


def ip4(src, dst, proto, payload, ttl=64, df=False, opts=b''):
    ihl = 20 + len(opts)
    h = struct.pack('>BBHHHBBH4s4s', 0x40 | (ihl // 4), 0, ihl + len(payload), 0x1234,
                    0x4000 if df else 0, ttl, proto, 0, bytes(map(int, src.split('.'))),
                    bytes(map(int, dst.split('.')))) + opts
    return h[:10] + struct.pack('>H', csum(h)) + h[12:] + payload


def main():
    # MRT: the first records of the shipped RIBs (TABLE_DUMP_V2) and of an update file (BGP4MP).
    open(R + 'mrt/seed-table-dump-v2-rib', 'wb').write(
        first_records(unbz2('data/routeviews-rib-2014-05-23.first1MB.mrt.bz2'), 6))
    open(R + 'mrt/seed-table-dump-v2-rib6', 'wb').write(
        first_records(unbz2('data/routeviews-rib6-2015-11-01.first1MB.mrt.bz2'), 6))
    open(R + 'mrt/seed-bgp4mp-updates', 'wb').write(
        first_records(gzip.open('data/ripe-rrc15-updates-2010-02-27-1600.mrt.gz').read(), 12))
    # Text: the first byte picks the format (0 prefix list, 1 bgpdump -m, 2 ip route).
    open(R + 'text/seed-prefix-list', 'wb').write(
        b'\x00; comment\n1.0.0.0/24\t15169\n1.0.4.0/22\tAS56203\n2001:db8::/32\t64500\n')
    open(R + 'text/seed-vrouter-text', 'wb').write(
        b'\x00# vrouter routes: PREFIX<TAB>NEXTHOP\n198.18.0.0/15\t3\n0.0.0.0/0\t0\n')
    open(R + 'text/seed-bgpdump', 'wb').write(
        b'\x01TABLE_DUMP2|1400824800|B|196.7.106.245|2905|1.0.0.0/24|2905 15169|IGP|196.7.106.245|0|0||NAG||\n'
        b'TABLE_DUMP2|1400824800|B|157.130.10.233|701|1.0.4.0/22|701 {1,2}|IGP|157.130.10.233|0|0||NAG||\n'
        b'BGP4MP|1267286400|A|195.66.224.175|13030|1.2.3.0/24|13030 1|IGP|195.66.224.175|0|0||NAG||\n'
        b'BGP4MP|1267286401|W|195.66.224.175|13030|1.2.3.0/24\n')
    open(R + 'text/seed-ip-route', 'wb').write(
        b'\x02default via 198.18.0.1 dev eth0 proto static\n'
        b'198.18.4.0/22 dev eth1 proto kernel scope link src 198.18.4.1\n'
        b'blackhole 198.19.0.0/16\n198.18.8.0/24 proto bird\n\tnexthop via 198.18.0.9 dev eth0 weight 1\n'
        b'2001:db8::/32 via fe80::1 dev eth0 metric 1024\n')
    # LPM operations: IPv4 (even first byte) and IPv6 (odd) inserts, removes and lookups.
    rnd = random.Random(19)
    open(R + 'lpm_ops/seed-ipv4', 'wb').write(bytes([0]) + bytes(rnd.randrange(256) for _ in range(6 * 200)))
    open(R + 'lpm_ops/seed-ipv6', 'wb').write(bytes([1]) + bytes(rnd.randrange(256) for _ in range(16 * 120)))
    # Pipeline: the ingress port byte, then frames each after its length in 8-byte units.
    us0, peer = bytes([2, 0x76, 0x72, 0, 0, 2]), bytes([2, 0, 0, 0, 0, 0x99])
    frames = [
        eth(us0, peer, 0x0800) + ip4('198.18.0.1', '8.8.8.8', 17, b'x' * 18),
        eth(us0, peer, 0x0800) + ip4('198.18.0.1', '8.8.8.8', 17, b'x' * 18, ttl=1),
        eth(us0, peer, 0x0800) + ip4('198.18.0.1', '198.18.1.7', 17, b'x' * 18),
        eth(us0, peer, 0x0800) + ip4('198.18.0.1', '8.8.8.8', 17, b'y' * 1480),
        eth(us0, peer, 0x0800) + ip4('198.18.0.1', '8.8.8.8', 17, b'z' * 16,
                                     opts=bytes([7, 7, 4, 0, 0, 0, 0, 0]) + bytes([0x44, 12, 5, 0] + [0] * 8)),
        eth(us0, peer, 0x0800) + ip4('198.18.0.1', '8.8.8.8', 1, bytes([8, 0, 0, 0, 0, 1, 0, 1]) + b'ping'),
        eth(b'\xff' * 6, peer, 0x0806) + struct.pack('>HHBBH', 1, 0x0800, 6, 4, 1) + peer
        + bytes([198, 18, 0, 1]) + b'\0' * 6 + bytes([198, 18, 0, 2]),
    ]
    src6 = bytes.fromhex('20010002000000000000000000000001')
    dst6 = bytes.fromhex('20014860000000000000000000008888')
    frames.append(eth(us0, peer, 0x86dd) + struct.pack('>IHBB', 0x60000000, 16, 17, 64) + src6 + dst6 + b'u' * 16)
    frames.append(eth(us0, peer, 0x86dd) + struct.pack('>IHBB', 0x60000000, 16, 0, 64) + src6 + dst6
                  + bytes([17, 0, 0x80, 4, 0, 0, 0, 0]) + b'h' * 8)
    data = bytes([0])
    for f in frames:
        f = (f + b'\0' * ((-len(f)) % 8))[:255 * 8]
        data += bytes([len(f) // 8]) + f
    open(R + 'pipeline/seed-mixed', 'wb').write(data)
    # Captures: a classic pcap of two of those frames, and a pcapng of one.
    p = struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1)
    for i, f in enumerate(frames[:2]):
        p += struct.pack('<IIII', 1000 + i, 0, len(f), len(f)) + f
    open(R + 'pcap/seed-pcap', 'wb').write(p)
    shb = struct.pack('<IIIHHq', 0x0a0d0d0a, 28, 0x1a2b3c4d, 1, 0, -1) + struct.pack('<I', 28)
    idb = struct.pack('<IIHHI', 1, 20, 1, 0, 65535) + struct.pack('<I', 20)
    f = frames[0]
    pad = (-len(f)) % 4
    epb = struct.pack('<IIIIIII', 6, 32 + len(f) + pad, 0, 0, 1, len(f), len(f)) + f + b'\0' * pad
    epb += struct.pack('<I', 32 + len(f) + pad)
    open(R + 'pcap/seed-pcapng', 'wb').write(shb + idb + epb)


main()
