"""Shrink the PNGs shipped under docs/images: 256-colour palette, optimised (figures of
flat colours lose nothing visible; a file gets about 2-3x smaller).

    python docs/shrink_png.py docs/images/demo_rank1.png ...
"""

from __future__ import annotations

import os
import sys

from PIL import Image


def shrink(path: str) -> tuple[int, int]:
    before = os.path.getsize(path)
    with Image.open(path) as im:
        small = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)
    return before, os.path.getsize(path)


if __name__ == "__main__":
    for p in sys.argv[1:]:
        a, b = shrink(p)
        print(f"{p}: {a} -> {b} bytes")
