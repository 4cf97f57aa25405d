#!/usr/bin/env python3
"""Draws the installable app icons (public/icon-192.png, icon-512.png): the favicon's green
circle with a check mark, anti-aliased by 4x4 supersampling. Pure Python, no imaging library,
so anyone can regenerate them: python3 scripts/icons.py"""
import struct, zlib, math, os

GREEN = (0x3f, 0xb9, 0x50)
DARK = (0x0f, 0x14, 0x19)


def seg_dist(px, py, ax, ay, bx, by):
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def pixel(x, y):
    """Colour and coverage at a point of the 32x32 favicon design."""
    if math.hypot(x - 16, y - 16) > 14:
        return None
    # Check mark: M9 17 l5 5 9-11, stroke width 3.
    if min(seg_dist(x, y, 9, 17, 14, 22), seg_dist(x, y, 14, 22, 23, 11)) <= 1.5:
        return DARK
    return GREEN


def icon(size):
    rows = []
    n = 4
    for j in range(size):
        row = bytearray([0])
        for i in range(size):
            acc = [0, 0, 0, 0]
            for sj in range(n):
                for si in range(n):
                    x = (i + (si + 0.5) / n) * 32 / size
                    y = (j + (sj + 0.5) / n) * 32 / size
                    c = pixel(x, y)
                    if c:
                        acc[0] += c[0]; acc[1] += c[1]; acc[2] += c[2]; acc[3] += 1
            if acc[3]:
                row += bytes([acc[0] // acc[3], acc[1] // acc[3], acc[2] // acc[3], 255 * acc[3] // (n * n)])
            else:
                row += bytes(4)
        rows.append(bytes(row))
    raw = b"".join(rows)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


root = os.path.join(os.path.dirname(__file__), "..", "public")
for size in (192, 512):
    with open(os.path.join(root, f"icon-{size}.png"), "wb") as f:
        f.write(icon(size))
