"""Draw the Teams app icons: a shield with an exclamation mark, on the accent colour.

Pure Python (zlib + struct) so anyone can regenerate them without an imaging library:
`python -m manifest.icons` or `python manifest/icons.py` rewrites color.png and outline.png
beside this file. Shapes are signed distance functions, so edges are anti-aliased for free.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
ACCENT = (0xC4, 0x31, 0x4B)  # the manifest's accentColor, #C4314B
WHITE = (255, 255, 255)

# Shield in unit coordinates (v grows downwards): straight sides |u| <= W down to v = 0,
# then two arcs meeting in a point at v = TIP; the top edge rises slightly to the middle.
W, TIP, TOP, TOP_CORNER = 0.75, 0.95, -0.92, -0.80
R = (TIP * TIP + W * W) / (2 * W)  # radius of arcs through (W, 0) and (0, TIP)
SHIELD_MIDDLE = (TOP + TIP) / 2

Distance = Callable[[float, float], float]  # > 0 inside, in unit lengths


def shield(u: float, v: float) -> float:
    """Distance to the shield's edge; the shape is convex, so the nearest side wins."""
    bow = TOP_CORNER - TOP
    top = TOP + bow * (u / W) ** 2
    slope = 2 * bow * u / (W * W)
    distances = [W - abs(u), (v - top) / math.sqrt(1 + slope * slope)]
    if v > 0:
        distances.append(R - math.hypot(abs(u) + (R - W), v))
    return min(distances)


def exclamation(u: float, v: float, *, size: float = 1.0) -> float:
    """Distance to a '!': a bar narrowing downwards, and a dot."""
    top, bottom, r_top, r_bottom = -0.50 * size, 0.14 * size, 0.15 * size, 0.09 * size
    dot = 0.13 * size - math.hypot(u, v - 0.47 * size)
    return max(dot, -_uneven_capsule(abs(u), v - top, r_top, r_bottom, bottom - top))


def _uneven_capsule(x: float, y: float, r1: float, r2: float, h: float) -> float:
    # Inigo Quilez's exact 2D distance; circle r1 at the origin, r2 at (0, h).
    b = (r1 - r2) / h
    a = math.sqrt(1 - b * b)
    k = -b * x + a * y
    if k < 0:
        return math.hypot(x, y) - r1
    if k > a * h:
        return math.hypot(x, y - h) - r2
    return a * x + b * y - r1


def _coverage(distance: float, pixel: float) -> float:
    return min(1.0, max(0.0, 0.5 + distance / pixel))


def _mix(a: tuple[int, ...], b: tuple[int, ...], t: float) -> tuple[int, ...]:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))


def render(size: int, *, shield_height: float, pixel_colour: Callable[..., tuple[int, ...]]
           ) -> list[list[tuple[int, ...]]]:
    """Rows of pixels, with the shield `shield_height` pixels tall in the middle."""
    pixel = (TIP - TOP) / shield_height  # one pixel, in unit lengths
    rows = []
    for y in range(size):
        v = (y + 0.5 - size / 2) * pixel + SHIELD_MIDDLE
        rows.append([pixel_colour((x + 0.5 - size / 2) * pixel, v, pixel) for x in range(size)])
    return rows


def colour_pixel(u: float, v: float, pixel: float) -> tuple[int, ...]:
    """White shield on the accent colour, the '!' cut out of it."""
    on_shield = _coverage(shield(u, v), pixel)
    on_mark = _coverage(exclamation(u, v), pixel)
    return _mix(_mix(ACCENT, WHITE, on_shield), ACCENT, on_mark)


def outline_pixel(u: float, v: float, pixel: float) -> tuple[int, ...]:
    """White shield border and '!', everything else transparent (Teams' outline rule)."""
    edge = shield(u, v)
    stroke = 2.0 * pixel
    on_border = min(_coverage(edge, pixel), _coverage(stroke - edge, pixel))
    on_mark = _coverage(exclamation(u, v, size=0.9), pixel)
    return (*WHITE, round(255 * max(on_border, on_mark)))


def png(rows: list[list[tuple[int, ...]]]) -> bytes:
    """Encode rows of RGB or RGBA pixels as an 8-bit PNG."""
    channels = len(rows[0][0])
    colour_type = {3: 2, 4: 6}[channels]
    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in rows)
    header = struct.pack(">IIBBBBB", len(rows[0]), len(rows), 8, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(raw, 9)) + _chunk(b"IEND", b""))


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def main(folder: Path = HERE) -> None:
    """Write color.png (192x192) and outline.png (32x32) into `folder`."""
    # Teams asks for the colour symbol to sit in the middle ~96-120 px of 192.
    colour = render(192, shield_height=116, pixel_colour=colour_pixel)
    (folder / "color.png").write_bytes(png(colour))
    outline = render(32, shield_height=30, pixel_colour=outline_pixel)
    (folder / "outline.png").write_bytes(png(outline))


if __name__ == "__main__":
    main()
