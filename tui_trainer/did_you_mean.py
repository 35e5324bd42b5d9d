"""The closest few names to a misspelt one, for the error that refuses it: `optim.lrr` is
answered with `lr`, not with the seven keys of the section, and `quikstart` with `quickstart`,
not with every preset. One wording everywhere (keys, presets, studies, architectures), so a
person learns it once.

No dependencies: config/, store/ and cli/ all use it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# difflib's own default: 'lrr' finds 'lr', 'batchsize' finds 'batch_size', 'xyz' finds nothing.
_CUTOFF = 0.6
_AT_MOST = 3


def closest(word: str, choices: Iterable[str]) -> list[str]:
    """Up to three of `choices` close to `word`, closest first; none when nothing is close."""
    return difflib.get_close_matches(word, list(dict.fromkeys(choices)), _AT_MOST, _CUTOFF)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`did you mean 'lr'?` (or `'a' or 'b'`, `'a', 'b' or 'c'`); '' when nothing is close."""
    found = [repr(name) for name in closest(word, choices)]
    if not found:
        return ""
    names = found[0] if len(found) == 1 else f"{', '.join(found[:-1])} or {found[-1]}"
    return f"did you mean {names}?"
