"""The caption under each `predict --cam` overlay: the class the model predicts with its
probability, and the image's true class (when its folder names one) with whether it was right.

Why in the picture, not only in predict's CSV: an overlay is copied into a report or a slide on
its own, and a heat map that does not say which class it is the map of (the predicted one,
train/gradcam.py), or whether that class was right, can be read as anything.

Drawn with Pillow's default font, as the sample sheets' captions are: no matplotlib needed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tui_trainer.printable import printable

LINE = 12  # pixels per caption line with Pillow's default font
CHAR = 6  # its width per character, about
PAD = 3  # pixels around the caption's text


def caption_lines(true: str | None, predicted: str, probability: float, width: int) -> list[str]:
    """`predicted dog 87.1%` and `true cat: wrong` (`true: not named by its folder` when the
    image's folder names no class), class names cut short to fit `width` pixels."""
    room = max(12, (width - 2 * PAD) // CHAR)
    share = f" {probability:.1%}"
    first = "predicted " + printable(predicted, limit=room - len("predicted ") - len(share))
    if true is None:
        return [first + share, "true: not named by its folder"]
    verdict = ": right" if true == predicted else ": wrong"
    return [first + share, "true " + printable(true, limit=room - 5 - len(verdict)) + verdict]


def caption_strip(lines: Sequence[str], width: int) -> np.ndarray:
    """The lines in white on black, as a uint8 HxWx3 strip `width` pixels wide."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default()
    strip = Image.new("RGB", (width, 2 * PAD + LINE * len(lines)), "black")
    draw = ImageDraw.Draw(strip)
    for number, line in enumerate(lines):
        if not isinstance(font, ImageFont.FreeTypeFont):  # Pillow's bitmap font: Latin-1 only
            line = line.encode("latin-1", "replace").decode("latin-1")
        draw.text((PAD, PAD + number * LINE), line, fill="white", font=font)
    return np.asarray(strip)


def captioned(picture: np.ndarray, lines: Sequence[str]) -> np.ndarray:
    """`picture` (uint8 HxWx3) with the caption `lines` under it."""
    return np.concatenate([picture, caption_strip(lines, picture.shape[1])], axis=0)
