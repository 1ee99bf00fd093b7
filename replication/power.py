"""What an inconclusive verdict could have seen, in words: the smallest effect its interval detects at
80 % power (:func:`replication.stats.detectable_effect`), and the seeds (:func:`replication.stats.runs_needed`)
and built-in profile that would decide it."""
from __future__ import annotations

import math

from . import stats
from .wording import decimals_for_uncertainty as decimals, fixed as _f

POWER_PROFILES = ("laptop", "gpu", "paper")


def profile_seeds(chapter: str) -> dict[str, int]:
    """Seeds per setting of ``chapter`` in each built-in profile (which profile would decide)."""
    from . import profiles

    out = {}
    for name in POWER_PROFILES:
        try:
            out[name] = int(profiles.chapter_values(name, chapter)["seeds"])
        except Exception:                      # a profile without the chapter: not a candidate
            continue
    return out


def power_text(half_width: float, n: int, target: float, unit: str, *, chapter: str, what: str) -> str:
    """What an inconclusive interval could have seen: the smallest effect detected at 80 % power
    (:func:`stats.detectable_effect`), and the seeds (:func:`stats.runs_needed`) and built-in profile
    that would shrink the half-width to ``target``; ``what`` names the replicates ("seeds per schedule")."""
    if not (math.isfinite(half_width) and n):
        return f"too few runs for an interval; at least two {what} are needed"
    d = stats.detectable_effect(half_width)
    digits = max(1, decimals(half_width))
    text = (f"effects smaller than {_f(d, digits)} {unit} were below what these runs detect at 80% power "
            f"(interval half-width {_f(half_width, digits)} {unit}, {n} {what})")
    if not (math.isfinite(target) and round(target, digits) > 0):
        return text + "; the estimate sits on the threshold: no number of seeds decides it"
    need = stats.runs_needed(n, half_width, target)
    if need <= n:
        return (text + f"; it is already as narrow as the distance to the threshold ({_f(target, digits)} {unit}) "
                "but not centred on the estimate: more seeds would narrow it, none is computed here")
    enough = [p for p, k in profile_seeds(chapter).items() if k >= need]
    return (text + f"; a half-width of {_f(target, digits)} {unit} would decide it, about {need} {what}: "
            + (f"the {enough[0]} profile has enough" if enough else "no built-in profile has that many"))
