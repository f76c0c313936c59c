#!/usr/bin/python3
"""Scripted misbehaving authoritative servers (dnspython + sockets).

Run as a process by the lab (one per address, killed by PID):

    scripted.py --address 127.53.9.1 --port 53 --mode timeout
    scripted.py --address 127.53.9.3 --port 53 --mode tc --zone tc.test.=FILE

Modes:
  timeout   read every query over UDP and TCP and never answer (TCP
            connections are held open until the client gives up)
  refused   answer every query with REFUSED (AA=0, question copied)
  tc        over UDP: an empty answer with TC=1; over TCP: the real answer
            from the zone(s) given with --zone (authoritative, with NXDOMAIN
            and NODATA carrying the SOA)
  marker    plays a recursive resolver (a forwarding target): RA=1, every
            A query answered 192.0.2.99, AAAA 2001:db8::99 (TTL 300), other
            types NODATA; tells forwarded queries from resolved ones
  auth      a plain authoritative server for the --zone(s), over UDP and
            TCP (used where the lab needs to count the queries a server got)
  glue      as auth, and the additional section carries the in-zone A/AAAA
            of the names that MX, NS and SRV records of the answer point at
            (test_answer_modules.py: addresses outside the answer section)

It prints "ready" on stdout once its sockets are bound, and appends one line
per query received to --log (if given): "udp|tcp QNAME QTYPE".
"""

import argparse
import contextlib
import selectors
import socket
import struct
import sys
import time

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone


MODES = ('timeout', 'refused', 'tc', 'auth', 'marker', 'glue')
MARKER_A = '192.0.2.99'
MARKER_AAAA = '2001:db8::99'


def load_zones(specs):
    zones = {}
    for spec in specs:
        origin, _, path = spec.partition('=')
        zones[dns.name.from_text(origin)] = dns.zone.from_file(path, origin=origin,
                                                               relativize=False)
    return zones


def authoritative_answer(query, zones):
    """A dns.message response built from the zones, the way an authoritative
    server answers: exact data, CNAME (not followed out of the zone),
    referral for delegated names, NXDOMAIN/NODATA with the SOA."""
    resp = dns.message.make_response(query)
    resp.flags &= ~dns.flags.RA
    if not query.question:
        resp.set_rcode(dns.rcode.FORMERR)
        return resp
    q = query.question[0]
    best = None
    for origin in zones:
        if q.name.is_subdomain(origin) and (best is None or len(origin) > len(best)):
            best = origin
    if best is None:
        resp.set_rcode(dns.rcode.REFUSED)
        return resp
    zone = zones[best]
    # a delegation below the apex: refer
    name = q.name
    while name != best and len(name) > len(best):
        node = zone.get_node(name)
        if node is not None and name != best:
            ns = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.NS)
            if ns is not None:
                resp.authority.append(dns.rrset.from_rdata_list(name, ns.ttl, list(ns)))
                return resp
        name = name.parent()
    resp.flags |= dns.flags.AA
    node = zone.get_node(q.name)
    soa = zone.get_rdataset(best, dns.rdatatype.SOA)
    soa_rrset = dns.rrset.from_rdata_list(best, soa.ttl, list(soa))
    if node is None:
        # NXDOMAIN unless it is an empty non-terminal
        ent = any(n.is_subdomain(q.name) and n != q.name for n in zone.nodes)
        if not ent:
            resp.set_rcode(dns.rcode.NXDOMAIN)
        resp.authority.append(soa_rrset)
        return resp
    rds = node.get_rdataset(dns.rdataclass.IN, q.rdtype)
    if rds is not None:
        resp.answer.append(dns.rrset.from_rdata_list(q.name, rds.ttl, list(rds)))
        return resp
    cname = node.get_rdataset(dns.rdataclass.IN, dns.rdatatype.CNAME)
    if cname is not None:
        resp.answer.append(dns.rrset.from_rdata_list(q.name, cname.ttl, list(cname)))
        return resp
    resp.authority.append(soa_rrset)
    return resp


def add_glue(resp, zones):
    """Additional A/AAAA for the in-zone targets of MX/NS/SRV in the answer."""
    for rrset in list(resp.answer):
        for rd in rrset:
            target = getattr(rd, 'exchange', None) or getattr(rd, 'target', None)
            if target is None or rrset.rdtype == dns.rdatatype.CNAME:
                continue
            for origin, zone in zones.items():
                if not target.is_subdomain(origin):
                    continue
                node = zone.get_node(target)
                for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
                    rds = node.get_rdataset(dns.rdataclass.IN, rdtype) if node else None
                    if rds is not None:
                        resp.additional.append(
                            dns.rrset.from_rdata_list(target, rds.ttl, list(rds)))
    return resp


def fit(r, q, transport):
    """The reply's wire form: whole over TCP; over UDP within the query's
    EDNS size (512 without EDNS), else an empty answer with TC=1."""
    if transport == 'tcp':
        return r.to_wire(max_size=65535)
    limit = max(512, q.payload if q.edns >= 0 else 512)
    try:
        return r.to_wire(max_size=limit)
    except dns.exception.TooBig:
        r = dns.message.make_response(q)
        r.flags &= ~dns.flags.RA
        r.flags |= dns.flags.TC | dns.flags.AA
        return r.to_wire()


class SocketLoop:
    """UDP and TCP port `port` on each of some addresses, one thread:
    serve() calls handle(address, 'udp'|'tcp', wire) for every query (the
    address it came to) and sends what it returns (None: nothing). TCP
    connections are dropped after 30 s."""

    def __init__(self, addresses, port):
        self.sel = selectors.DefaultSelector()
        self.conns = {}   # socket -> [buffer, opened at, address]
        for address in addresses:
            family = socket.AF_INET6 if ':' in address else socket.AF_INET
            udp = socket.socket(family, socket.SOCK_DGRAM)
            udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            udp.bind((address, port))
            udp.setblocking(False)
            tcp = socket.socket(family, socket.SOCK_STREAM)
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((address, port))
            tcp.listen(64)
            tcp.setblocking(False)
            self.sel.register(udp, selectors.EVENT_READ, ('udp', address))
            self.sel.register(tcp, selectors.EVENT_READ, ('listen', address))

    def handle(self, address, transport, wire):
        raise NotImplementedError

    def serve(self):
        while True:
            for key, _ in self.sel.select(timeout=1.0):
                kind, address = key.data
                if kind == 'udp':
                    try:
                        wire, peer = key.fileobj.recvfrom(65535)
                    except (BlockingIOError, InterruptedError):
                        continue
                    out = self.handle(address, 'udp', wire)
                    if out is not None:
                        with contextlib.suppress(OSError):
                            key.fileobj.sendto(out, peer)
                elif kind == 'listen':
                    try:
                        conn, _ = key.fileobj.accept()
                    except (BlockingIOError, InterruptedError):
                        continue
                    conn.setblocking(False)
                    self.conns[conn] = [b'', time.monotonic(), address]
                    self.sel.register(conn, selectors.EVENT_READ, ('conn', address))
                else:
                    self._on_conn(key.fileobj)
            now = time.monotonic()
            for conn, (_, opened, _) in list(self.conns.items()):
                if now - opened > 30:
                    self._close(conn)

    def _close(self, conn):
        self.sel.unregister(conn)
        self.conns.pop(conn, None)
        conn.close()

    def _on_conn(self, conn):
        try:
            data = conn.recv(65535)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b''
        if not data:
            self._close(conn)
            return
        state = self.conns[conn]
        state[0] += data
        while len(state[0]) >= 2:
            (n,) = struct.unpack('!H', state[0][:2])
            if len(state[0]) < 2 + n:
                break
            wire, state[0] = state[0][2:2 + n], state[0][2 + n:]
            out = self.handle(state[2], 'tcp', wire)
            if out is not None:
                try:
                    conn.setblocking(True)
                    conn.settimeout(2)
                    conn.sendall(struct.pack('!H', len(out)) + out)
                    conn.setblocking(False)
                except OSError:
                    self._close(conn)
                    return


class Server(SocketLoop):
    def __init__(self, address, port, mode, zones, log=None):
        super().__init__([address], port)
        self.mode = mode
        self.zones = zones
        self.log = log

    def handle(self, address, transport, wire):
        self.note(transport, wire)
        return self.reply(wire, transport)

    def note(self, transport, wire):
        if not self.log:
            return
        try:
            q = dns.message.from_wire(wire)
            what = f'{q.question[0].name} {dns.rdatatype.to_text(q.question[0].rdtype)}'
        except Exception:  # noqa: BLE001 - anything unparsable is logged as such
            what = 'unparsable'
        with open(self.log, 'a') as f:
            f.write(f'{transport} {what}\n')

    def reply(self, wire, transport):
        """Reply bytes for a query, or None to stay silent (also when
        building the reply fails: the server never dies of a query)."""
        try:
            return self._reply(wire, transport)
        except Exception as e:  # noqa: BLE001
            print(f'reply failed: {e!r}', file=sys.stderr, flush=True)
            return None

    def _reply(self, wire, transport):
        if self.mode == 'timeout':
            return None
        try:
            q = dns.message.from_wire(wire)
        except Exception:  # noqa: BLE001 - malformed: stay silent
            return None
        if self.mode == 'refused':
            r = dns.message.make_response(q)
            r.flags &= ~dns.flags.RA
            r.set_rcode(dns.rcode.REFUSED)
            return r.to_wire()
        if self.mode == 'tc':
            if transport == 'udp':
                r = dns.message.make_response(q)
                r.flags &= ~dns.flags.RA
                r.flags |= dns.flags.TC | dns.flags.AA
                return r.to_wire()
            return authoritative_answer(q, self.zones).to_wire(max_size=65535)
        if self.mode == 'marker':
            r = dns.message.make_response(q)
            r.flags |= dns.flags.RA
            qq = q.question[0]
            data = {dns.rdatatype.A: MARKER_A, dns.rdatatype.AAAA: MARKER_AAAA}.get(qq.rdtype)
            if data is not None and qq.rdclass == dns.rdataclass.IN:
                r.answer.append(dns.rrset.from_text(qq.name, 300, 'IN', qq.rdtype, data))
            return r.to_wire(max_size=65535)
        if self.mode in ('auth', 'glue'):
            r = authoritative_answer(q, self.zones)
            if self.mode == 'glue':
                add_glue(r, self.zones)
            return fit(r, q, transport)
        raise ValueError(self.mode)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--address', required=True)
    ap.add_argument('--port', type=int, default=53)
    ap.add_argument('--mode', required=True, choices=MODES)
    ap.add_argument('--zone', action='append', default=[], metavar='ORIGIN=FILE')
    ap.add_argument('--log')
    args = ap.parse_args(argv)
    server = Server(args.address, args.port, args.mode, load_zones(args.zone), args.log)
    print('ready', flush=True)
    try:
        server.serve()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == '__main__':
    sys.exit(main())
