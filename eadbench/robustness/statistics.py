"""The robustness study's statistics and its flag: a metric's change under a perturbation is
``value(perturbed) - value(clean)`` per clip, summarised by its mean over clips with a 95%
percentile bootstrap CI (set-level FVD: the FVD between the perturbed and the clean clips minus
the FVD of the clean clips with themselves, with clips resampled jointly for the CI).

The flag, per metric output with a direction (``FLAG_RULE``): judged over the perturbations the
metric can see (audio edits only count for metrics that read audio), a metric is flagged when
its largest mean |change| under a harmless perturbation exceeds its smallest mean degradation
(the change signed so that positive means worse) under a harmful one. A harmful perturbation
under which the metric does not get worse at all is listed as one it is blind to.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import numpy as np

from eadbench.errors import MetricInputError
from eadbench.metrics.frechet import frechet_small
from eadbench.robustness.perturbations import HARMFUL, HARMLESS, Perturbation

#: changes within this of each other count as equal (identical inputs give identical values)
EPS = 1e-9
FLAG_RULE = (
    "Per metric output with a direction, over the perturbations the metric can see (audio edits only "
    "for metrics that read audio): change = value(perturbed) - value(clean) per clip; degradation = the "
    "change signed so that positive means worse (-change for higher-is-better outputs). FLAGGED when the "
    "largest mean |change| over clips under a harmless perturbation is greater than the smallest mean "
    "degradation under a harmful one (a harmful perturbation that leaves the metric unchanged or better "
    "has degradation <= 0). 'clear' when the 95% CI of that harmless mean |change| lies wholly above the "
    "95% CI of that harmful mean degradation. 'blind to': harmful perturbations with mean degradation "
    "<= 0. Set-level metrics (FVD) use the one set-level change in place of a mean over clips."
)


def degradation_sign(direction: str | None) -> int:
    """+1 when a larger value is worse (lower-is-better outputs), -1 when it is better; 0: no direction."""
    from eadbench.metrics.base import HIGHER, LOWER

    return {LOWER: 1, HIGHER: -1}.get(direction, 0)


def clip_cell(deltas: list[float], direction: str | None, n_resamples: int = 1000,
              seed: int = 0) -> dict[str, Any]:
    """Summary of per-clip changes: mean change, mean |change|, mean degradation, each with its
    95% bootstrap CI (None below 2 clips)."""
    from eadbench.results import bootstrap_ci

    x = np.asarray(deltas, dtype=np.float64)
    sign = degradation_sign(direction)
    cell: dict[str, Any] = {"n": int(len(x))}
    if not len(x):
        return {**cell, "mean_change": None, "ci95": None, "mean_abs_change": None, "abs_ci95": None,
                "mean_degradation": None, "degradation_ci95": None}
    ci = bootstrap_ci(list(x), n_resamples, seed) if n_resamples > 0 else None
    abs_ci = bootstrap_ci(list(np.abs(x)), n_resamples, seed) if n_resamples > 0 else None
    cell.update(mean_change=float(x.mean()), ci95=_pair(ci), mean_abs_change=float(np.abs(x).mean()),
                abs_ci95=_pair(abs_ci))
    if sign:
        deg_ci = None if ci is None else sorted((sign * ci[0], sign * ci[1]))
        cell.update(mean_degradation=float(sign * x.mean()), degradation_ci95=_pair(deg_ci))
    else:
        cell.update(mean_degradation=None, degradation_ci95=None)
    return cell


def _pair(ci) -> list[float] | None:
    return None if ci is None else [float(ci[0]), float(ci[1])]


def set_cell(fake: list[np.ndarray], real: list[np.ndarray], direction: str | None, n_resamples: int = 1000,
             seed: int = 0) -> dict[str, Any]:
    """A set-level metric's change: FD(perturbed clips, clean clips) - FD(clean clips, clean clips),
    per-clip features paired; CI by resampling clips jointly (percentile bootstrap)."""
    from eadbench.metrics.fvd import fvd_from_features

    n = len(fake)
    cell: dict[str, Any] = {"n": n}
    if n < 2:
        raise MetricInputError(f"a set-level change needs at least 2 clips scored on both sides, got {n}")
    f, r = np.concatenate(fake), np.concatenate(real)
    value = fvd_from_features(f, r)
    base = fvd_from_features(r, r)
    delta = value - base
    sign = degradation_sign(direction)
    ci = abs_ci = None
    if n_resamples > 0:
        rng = np.random.default_rng(seed)
        deltas = []
        for _ in range(n_resamples):
            idx = rng.integers(0, n, n)
            fb, rb = np.concatenate([fake[i] for i in idx]), np.concatenate([real[i] for i in idx])
            deltas.append(frechet_small(fb, rb) - frechet_small(rb, rb))
        d = np.asarray(deltas)
        ci = tuple(np.quantile(d, [0.025, 0.975]))
        abs_ci = tuple(np.quantile(np.abs(d), [0.025, 0.975]))
    cell.update(value=value, clean_value=base, mean_change=delta, ci95=_pair(ci), mean_abs_change=abs(delta),
                abs_ci95=_pair(abs_ci))
    if sign:
        cell.update(mean_degradation=sign * delta,
                    degradation_ci95=None if ci is None else sorted([sign * ci[0], sign * ci[1]]))
    else:
        cell.update(mean_degradation=None, degradation_ci95=None)
    return cell


def flag(cells: dict[str, dict[str, Any]], perturbations: Iterable[Perturbation], direction: str | None,
         applicable: Callable[[Perturbation], bool] = lambda p: True) -> dict[str, Any]:
    """The flag of one metric output (``FLAG_RULE``) from its cells (perturbation name -> cell with
    ``mean_abs_change``, ``mean_degradation`` and their CIs)."""
    if not degradation_sign(direction):
        return {"status": "not judged", "reason": "output has no better/worse direction", "flagged": False}
    harmless, harmful = [], []
    for p in perturbations:
        c = cells.get(p.name)
        if not c or not c.get("n") or not applicable(p):
            continue
        if p.kind == HARMLESS and c.get("mean_abs_change") is not None:
            harmless.append((c["mean_abs_change"], p.name, c.get("abs_ci95")))
        elif p.kind == HARMFUL and c.get("mean_degradation") is not None:
            harmful.append((c["mean_degradation"], p.name, c.get("degradation_ci95")))
    if not harmless or not harmful:
        side = "harmless" if not harmless else "harmful"
        return {"status": "not judged", "reason": f"no {side} perturbation it can see was scored",
                "flagged": False}
    worst = max(harmless, key=lambda t: t[0])
    weakest = min(harmful, key=lambda t: t[0])
    flagged = worst[0] > weakest[0] + EPS
    clear = bool(flagged and worst[2] is not None and weakest[2] is not None and worst[2][0] > weakest[2][1])
    return {
        "status": "flagged" if flagged else "ok", "flagged": flagged, "clear": clear,
        "largest_harmless": {"perturbation": worst[1], "mean_abs_change": worst[0], "abs_ci95": worst[2]},
        "smallest_harmful": {"perturbation": weakest[1], "mean_degradation": weakest[0],
                             "degradation_ci95": weakest[2]},
        "blind_to": sorted(name for deg, name, _ in harmful if deg <= EPS),
    }
