#!/usr/bin/env python3
"""Round trips of the evaluator's Check over its Unix socket from a blocking client, to see what a call costs
without the Swift client library (docs/PERFORMANCE.md, "Where `check` time goes").

    dev/check-probe.py EVALUATOR_SOCKET SEGMENT [CALLS] [USERS]

One connection, CALLS calls one after the other (default 20000) for users u0 … u{USERS-1} in a scattered order
(default 100000: segbench's user ids), frames built by hand as Protos/segments/v1/rpc.proto describes them.
Prints the p50 and p99 round trip. Exits 1 when the evaluator answers a call with an error status.
"""
import socket
import struct
import sys
import time


def varint(n):
    out = bytearray()
    while True:
        low = n & 0x7F
        n >>= 7
        out.append(low | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number, wire_type, value):
    key = varint(number << 3 | wire_type)
    return key + (varint(value) if wire_type == 0 else varint(len(value)) + value)


def read_varint(data, at):
    value, shift = 0, 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def fields(message):
    """The message's varint and length-delimited fields by number (the last of each)."""
    found, at = {}, 0
    while at < len(message):
        key, at = read_varint(message, at)
        if key & 7 == 0:
            found[key >> 3], at = read_varint(message, at)
        elif key & 7 == 2:
            length, at = read_varint(message, at)
            found[key >> 3], at = message[at:at + length], at + length
        else:
            sys.exit(f"unexpected wire type {key & 7} in a response")
    return found


def receive(sock, count):
    data = b""
    while len(data) < count:
        chunk = sock.recv(count - len(data))
        if not chunk:
            sys.exit("the evaluator closed the connection")
        data += chunk
    return data


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    path, segment = sys.argv[1], sys.argv[2]
    calls = int(sys.argv[3]) if len(sys.argv) > 3 else 20000
    users = int(sys.argv[4]) if len(sys.argv) > 4 else 100000
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    latencies = []
    for call in range(calls):
        request = field(1, 2, f"u{(call * 7919) % users}".encode()) + field(2, 2, segment.encode())
        frame = field(1, 0, call + 1) + field(2, 2, b"segments.v1.Evaluator/Check") + field(3, 2, request)
        start = time.perf_counter_ns()
        sock.sendall(struct.pack(">I", len(frame)) + frame)
        response = receive(sock, struct.unpack(">I", receive(sock, 4))[0])
        latencies.append(time.perf_counter_ns() - start)
        status = fields(response).get(4)
        if status is not None:
            code, message = fields(status).get(1, 0), fields(status).get(2, b"").decode()
            if code != 0:
                sys.exit(f"call {call + 1} failed: status {code}: {message}")
    latencies.sort()
    p50 = latencies[len(latencies) // 2] / 1000
    p99 = latencies[len(latencies) * 99 // 100] / 1000
    print(f"{calls} checks of {segment}: p50 {p50:.1f} µs, p99 {p99:.1f} µs")


if __name__ == "__main__":
    main()
