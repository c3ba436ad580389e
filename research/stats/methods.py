"""The 95% intervals of the statistics, from the counts, means and standard deviations SQL aggregated.

Pure. SQL has no t quantile, so the aggregation (n, sums, mean, sd) is done in the database and the interval
here. Each interval is null, with the reason, where its method does not hold:

- **NPS** (normal approximation of the promoter − detractor difference): n < `MIN_N_NPS`, or no variance (all
  answers in one category);
- **mean** (Student's t with n − 1 degrees of freedom): n < 2 or a standard deviation of 0;
- **proportion** (Wilson score interval): n = 0 only — Wilson keeps close to its nominal coverage at small n,
  which is why it is used (Brown, Cai & DasGupta 2001);
- **difference of means** (Welch): fewer than 2 in either group, or no variance in both.
"""

from __future__ import annotations

import functools
import math
from statistics import NormalDist
from typing import Final

from research.stats.model import Estimate, Methods

CONFIDENCE: Final = 0.95
Z: Final = NormalDist().inv_cdf(0.5 + CONFIDENCE / 2)
"""1.959964 (the 1.96 of textbooks)."""
MIN_N_NPS: Final = 10
"""Below this the normal approximation of the NPS's sampling distribution is too rough to print."""
EXACT_T_DF: Final = 30
"""Up to this many degrees of freedom the t quantile is found from the exact distribution function; beyond, the
Cornish–Fisher expansion is accurate to better than 1e-6."""


def nps(n: int, promoters: int, detractors: int) -> Estimate:
    """NPS = 100 (p − q) with p, q the promoter and detractor shares; Var(p − q) = (p + q − (p − q)²) / n,
    interval 100 (p − q ± z √Var), cut to ±100."""
    if n == 0:
        return Estimate(value=None, n=0, low=None, high=None, no_interval="n = 0")
    p, q = promoters / n, detractors / n
    value = 100 * (p - q)
    if n < MIN_N_NPS:
        return Estimate(value=value, n=n, low=None, high=None, no_interval=f"n < {MIN_N_NPS}")
    variance = (p + q - (p - q) ** 2) / n
    if variance <= 0:
        return Estimate(value=value, n=n, low=None, high=None, no_interval="no variance")
    half = 100 * Z * math.sqrt(variance)
    return Estimate(value=value, n=n, low=max(-100.0, value - half), high=min(100.0, value + half))


def mean(n: int, average: float | None, sd: float | None, scale: tuple[int, int] | None = None) -> Estimate:
    """The mean with its t interval, mean ± t(0.975, n − 1) · sd / √n, cut to the `scale`'s ends if given."""
    if n == 0 or average is None:
        return Estimate(value=None, n=n, low=None, high=None, no_interval="n = 0")
    if n < 2:
        return Estimate(value=average, n=n, low=None, high=None, no_interval="n < 2")
    if not sd:
        return Estimate(value=average, n=n, low=None, high=None, no_interval="no variance")
    half = t_quantile(n - 1) * sd / math.sqrt(n)
    low, high = average - half, average + half
    if scale is not None:
        low, high = max(float(scale[0]), low), min(float(scale[1]), high)
    return Estimate(value=average, n=n, low=low, high=high)


def proportion(n: int, successes: int) -> Estimate:
    """successes / n in % with the Wilson score interval:
    (p̂ + z²/2n ± z √(p̂(1 − p̂)/n + z²/4n²)) / (1 + z²/n)."""
    if n == 0:
        return Estimate(value=None, n=0, low=None, high=None, no_interval="n = 0")
    share = successes / n
    z2 = Z * Z
    centre = (share + z2 / (2 * n)) / (1 + z2 / n)
    half = Z / (1 + z2 / n) * math.sqrt(share * (1 - share) / n + z2 / (4 * n * n))
    # At 0 and at n the bound is exactly 0 or 1: said so, rather than left to rounding (2.8e-15).
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return Estimate(value=100 * share, n=n, low=100 * low, high=100 * high)


def difference(
    n1: int, mean1: float | None, sd1: float | None, n2: int, mean2: float | None, sd2: float | None
) -> Estimate:
    """mean1 − mean2 with Welch's interval: SE = √(s1²/n1 + s2²/n2), t at the Welch–Satterthwaite degrees of
    freedom rounded down (the conservative side)."""
    n = n1 + n2
    if mean1 is None or mean2 is None:
        return Estimate(value=None, n=n, low=None, high=None, no_interval="a group is empty")
    value = mean1 - mean2
    if n1 < 2 or n2 < 2:
        return Estimate(value=value, n=n, low=None, high=None, no_interval="fewer than 2 in a group")
    v1, v2 = (sd1 or 0.0) ** 2 / n1, (sd2 or 0.0) ** 2 / n2
    if v1 + v2 <= 0:
        return Estimate(value=value, n=n, low=None, high=None, no_interval="no variance")
    df = (v1 + v2) ** 2 / (v1**2 / (n1 - 1) + v2**2 / (n2 - 1))
    half = t_quantile(max(1, math.floor(df))) * math.sqrt(v1 + v2)
    return Estimate(value=value, n=n, low=value - half, high=value + half)


@functools.lru_cache(maxsize=1024)
def t_quantile(df: int) -> float:
    """The two-sided 95% quantile of Student's t with `df` degrees of freedom (t(0.975, df))."""
    if df < 1:
        raise ValueError("a t quantile needs at least 1 degree of freedom")
    if df > EXACT_T_DF:
        return _cornish_fisher(df)
    low, high = 0.0, 1000.0  # t(0.975, 1) = 12.7
    for _ in range(100):
        middle = (low + high) / 2
        if _central_mass(middle, df) < CONFIDENCE:
            low = middle
        else:
            high = middle
    return (low + high) / 2


def _central_mass(t: float, df: int) -> float:
    """P(|T| ≤ t) for integer `df`, in closed form (Abramowitz & Stegun 26.7.3 and 26.7.4)."""
    theta = math.atan(t / math.sqrt(df))
    sin, cos2 = math.sin(theta), math.cos(theta) ** 2
    if df % 2:
        term, total = math.cos(theta), 0.0
        if df > 1:
            total = term
            for k in range(3, df - 1, 2):  # cos θ (1 + 2/3 cos²θ + 2·4/(3·5) cos⁴θ + …)
                term *= cos2 * (k - 1) / k
                total += term
        return 2 / math.pi * (theta + sin * total)
    term = total = 1.0
    for k in range(2, df - 1, 2):  # 1 + 1/2 cos²θ + 1·3/(2·4) cos⁴θ + …
        term *= cos2 * (k - 1) / k
        total += term
    return sin * total


def _cornish_fisher(df: int) -> float:
    """t(0.975, df) by the Cornish–Fisher expansion around the normal quantile (Abramowitz & Stegun 26.7.5)."""
    z = Z
    g1 = (z**3 + z) / 4
    g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
    g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
    g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
    return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4


METHODS: Final = Methods(
    confidence=CONFIDENCE,
    nps=f"NPS = % promoters (9–10) − % detractors (0–6), in points. 95% interval by the normal approximation of "
    f"the difference of the two shares: Var = (p + q − (p − q)²) / n, NPS ± {Z:.6f} · √Var · 100, cut to ±100; "
    f"null when n < {MIN_N_NPS} or the variance is 0 (all answers in one category).",
    mean="Mean with Student's t interval: mean ± t(0.975, n − 1) · sd / √n (sample sd), cut to the scale's ends; "
    "null when n < 2 or sd = 0.",
    proportion=f"Share in % with the Wilson score interval (z = {Z:.6f}); null only when n = 0.",
    response_rate="Completed surveys / invitations sent (status sent), in %, with the Wilson interval; "
    "null when nothing was sent.",
    top_two_box="Share of answers on the two highest points of the scale, as questionnaires.scores defines it: "
    "4–5 of CSAT's 1–5, 6–7 of a 1–7 rating, 9–10 of a 0–10 rating; Wilson interval. `csat` is the "
    "top-two-box over every CSAT question's answers; each rating question has its own.",
    latency="Minutes from the contact (the event's occurred_at) to the invitation's first answer and to its "
    "completion: median and 90th percentile (percentile_cont, interpolated) over the invitations that got there.",
    buckets="Each bucket counts the contacts (events) that occurred in it and what followed from them, whenever "
    "it came; buckets are calendar days or ISO weeks (Monday first) in the query's time zone, the first and last "
    "cut to the range.",
)
