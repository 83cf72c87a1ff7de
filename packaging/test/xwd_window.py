#!/usr/bin/env python3
"""Reads an XWD screen dump (xwd -root) on stdin, crops the window at
X Y W H (argv), writes it as a PNG (argv[5]) and prints the number of
distinct colours in it: a window whose web view painted nothing is one
flat colour. Used by scripts/smoke-deb.sh; standard library only."""
import struct
import sys
import zlib


def main() -> None:
    x, y, w, h = (int(v) for v in sys.argv[1:5])
    out = sys.argv[5]
    data = sys.stdin.buffer.read()
    header = struct.unpack(">25I", data[:100])
    header_size, version = header[0], header[1]
    if version != 7:
        sys.exit(f"not an XWD v7 dump (version {version})")
    width, height = header[4], header[5]
    byte_order, bpp, bytes_per_line = header[7], header[11], header[12]
    ncolors = header[19]
    # 24-bit dumps pack 3 bytes a pixel (lines may still be padded longer).
    step = bpp // 8
    if bpp not in (24, 32) or width * step > bytes_per_line:
        sys.exit(f"unsupported dump: {bpp} bits, {step} bytes per pixel")
    pixels = data[header_size + ncolors * 12:]
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(width, x + w), min(height, y + h)
    if x1 <= x0 or y1 <= y0:
        sys.exit("window is off the screen")
    colours = set()
    rows = []
    for row in range(y0, y1):
        line = pixels[row * bytes_per_line + x0 * step: row * bytes_per_line + x1 * step]
        rgb = bytearray()
        for i in range(0, len(line), step):
            px = line[i:i + step]
            b, g, r = (px[0], px[1], px[2]) if byte_order == 0 else (px[-1], px[-2], px[-3])
            rgb += bytes((r, g, b))
        colours.update(bytes(rgb[i:i + 3]) for i in range(0, len(rgb), 3 * 7))
        rows.append(b"\x00" + bytes(rgb))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    png = (b"\x89PNG\r\n\x1a\n"
           + chunk(b"IHDR", struct.pack(">IIBBBBB", x1 - x0, y1 - y0, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(b"".join(rows), 6))
           + chunk(b"IEND", b""))
    with open(out, "wb") as f:
        f.write(png)
    print(len(colours))


if __name__ == "__main__":
    main()
