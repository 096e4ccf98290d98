"""``svibench check``: regression check of a tiny suite against committed baselines.

A check runs a small suite (CPU, seconds to minutes) through the check generators, reduces each
generator to *figures*, compares them with ``baselines/<...>/*.json`` and evaluates invariants:

* figure ``<metric>.mean``: mean over cases of the per-case clip mean (the leaderboard number);
* figure ``<metric>.<measure>``: mean over cases of a drift measure (``svibench.analysis.drift``).

A figure passes when ``|measured - baseline| <= abs + rel * |baseline|`` (tolerances per figure,
first matching glob pattern of ``[check.tolerance]`` wins). Invariants hold whatever the numbers
(e.g. the drifting synthetic generator ranks last). Configuration, all optional, in
``svibench.toml``::

    [check]
    suite = "check"                  # suites/<name>.toml next to svibench.toml, or a path
    baselines = "baselines/tiny"     # one JSON file per (suite, generator)
    generators = ["tiny-world", "tiny-world-drift"]
    metrics = "default"              # a [metric_sets] name or a list of metric names
    threads = 1                      # torch threads: fixed, so numbers don't follow [run].threads
    [check.tolerance]                # glob over figure ids -> {abs, rel}; first match wins
    "*.mean" = { abs = 1e-4, rel = 1e-3 }
    "*" = { abs = 2e-3, rel = 1e-2 }
    [[check.invariants]]
    kind = "ranks_last"              # ranks_first | ranks_last | drifts_less | drifts_most
                                     # | no_drift | drifts
    generator = "tiny-world-drift"
    metric = "ssim_ref"              # default: the headline metric (ranks_*), the headline drift
                                     # metric (drift kinds; svibench.analysis.drift.DRIFT_METRICS)
    # measure = "worse_per_min"      # drift invariants: worse_per_min | rel_drop | vde | vde_norm
    # among = ["a", "b"]             # ranks_* / drifts_most: compare within these only

``no_drift`` holds when the generator's exact 95 % signed-rank CI of the per-case drift
(``svibench.analysis.stats.signed_rank_ci``) contains 0; ``drifts`` when it reaches 95 % and excludes 0 on
the worse side (needs >= 6 cases: with fewer no interval reaches 95 %).

Everything here is deterministic: same code, same machine -> byte-identical baselines.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from svibench.analysis.drift import (
    DRIFT_MEASURES,
    HEADLINE_MEASURE,
    aggregate_cases,
    drift_table,
)
from svibench.analysis.tables import (
    RunData,
    drift_ci_table,
    drift_summary,
    load_run,
    quality_table,
)
from svibench.atomic import atomic_write_text
from svibench.check_config import (
    CI_KINDS,
    RANK_KINDS,
    CheckConfig,
    Invariant,
    Tolerance,
)
from svibench.config import Config
from svibench.errors import ConfigError, SvibenchError
from svibench.runner import build_generator, run_suite
from svibench.suite import load_suite

FORMAT_VERSION = 1


@dataclass(frozen=True)
class FigureResult:
    generator: str
    figure: str
    baseline: float | None  # None: no baseline
    measured: float | None  # None: not measured
    tolerance: Tolerance | None
    limit: float
    verdict: str  # ok | FAIL | missing | new | changed

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"


@dataclass(frozen=True)
class InvariantResult:
    text: str
    ok: bool
    detail: str
    skipped: bool = False


# ----------------------------------------------------------------------------- figures
def figures(run: RunData) -> dict[str, dict[str, float]]:
    """generator -> figure id -> value (NaN where undefined), from the run's rows."""
    out: dict[str, dict[str, float]] = {}
    for r in quality_table(run).itertuples(index=False):
        out.setdefault(r.generator, {})[f"{r.metric}.mean"] = float(r.mean)
    d = drift_summary(run)
    for r in d[d["measure"].isin(DRIFT_MEASURES)].itertuples(index=False):
        out.setdefault(r.generator, {})[f"{r.metric}.{r.measure}"] = float(r.mean)
    return {g: dict(sorted(f.items())) for g, f in sorted(out.items())}


def _json_value(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None  # JSON has no NaN


def baseline_doc(
    suite: str,
    suite_digest: str,
    generator: str,
    identity: dict[str, Any],
    metrics: tuple[str, ...],
    values: dict[str, float],
) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "suite": suite,
        "suite_digest": suite_digest,
        "generator": generator,
        "generator_identity": identity,
        "metrics": list(metrics),
        "figures": {k: _json_value(v) for k, v in sorted(values.items())},
    }


def baseline_path(folder: Path, suite: str, generator: str) -> Path:
    return Path(folder) / f"{suite}.{generator}.json"


def read_baselines(folder: Path, suite: str) -> dict[str, dict[str, Any]]:
    """generator -> baseline document, for every ``*.json`` in ``folder`` of this suite."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(Path(folder).glob("*.json")):
        try:
            doc = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise SvibenchError(
                f"{path}: unreadable baseline ({e}); fix it or rerun with --update"
            ) from None
        if (
            not isinstance(doc, dict)
            or not isinstance(doc.get("figures"), dict)
            or "generator" not in doc
        ):
            raise SvibenchError(f"{path}: not a svibench check baseline (no 'generator'/'figures')")
        if doc.get("suite") == suite:
            out[str(doc["generator"])] = {**doc, "_path": str(path)}
    return out


def write_baseline(path: Path, doc: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(doc, indent=2, sort_keys=True) + "\n")


# ----------------------------------------------------------------------------- comparison
def _as_float(v: Any) -> float:
    return float("nan") if v is None else float(v)


def compare(
    measured: dict[str, dict[str, float]],
    baselines: dict[str, dict[str, Any]],
    check: CheckConfig,
    identities: dict[str, dict[str, Any]],
    scale: float = 1.0,
) -> list[FigureResult]:
    """One result per (generator, figure) in either the measurement or the baselines."""
    results: list[FigureResult] = []
    for gen in sorted(set(measured) | set(baselines)):
        base = baselines.get(gen)
        if base is None:
            results.append(FigureResult(gen, "(baseline file)", None, None, None, 0.0, "missing"))
            continue
        if gen not in measured:
            results.append(FigureResult(gen, "(not run)", None, None, None, 0.0, "missing"))
            continue
        changed = _changed_keys(base.get("generator_identity"), identities.get(gen))
        if gen in identities and changed:
            # e.g. "(generator: weights_sha256)": same name, different model or parameters
            results.append(
                FigureResult(
                    gen, f"(generator: {', '.join(changed)})", None, None, None, 0.0, "changed"
                )
            )
        bfig = base["figures"]
        for fig in sorted(set(bfig) | set(measured[gen])):
            if fig not in measured[gen]:
                results.append(
                    FigureResult(gen, fig, _as_float(bfig[fig]), None, None, 0.0, "missing")
                )
                continue
            if fig not in bfig:
                results.append(FigureResult(gen, fig, None, measured[gen][fig], None, 0.0, "new"))
                continue
            b, m = _as_float(bfig[fig]), measured[gen][fig]
            tol = check.tolerance(fig)
            if not (math.isfinite(b) and math.isfinite(m)):
                ok, limit = math.isfinite(b) == math.isfinite(m), 0.0
            else:
                limit = tol.limit(b, scale)
                ok = abs(m - b) <= limit
            results.append(FigureResult(gen, fig, b, m, tol, limit, "ok" if ok else "FAIL"))
    return results


def _metric_means(run: RunData, metric: str) -> dict[str, float]:
    q = quality_table(run)
    return {r.generator: float(r.mean) for r in q[q["metric"] == metric].itertuples(index=False)}


def _drift_means(run: RunData, metric: str, measure: str) -> dict[str, float]:
    d = drift_summary(run)
    if measure not in set(d["measure"]):
        d = aggregate_cases(
            drift_table(run.rows, run.seconds_per_clip, run.directions), measures=(measure,)
        )
    sel = d[(d["metric"] == metric) & (d["measure"] == measure)]
    return {r.generator: float(r.mean) for r in sel.itertuples(index=False)}


def _ci_invariant(run: RunData, inv: Invariant, metric: str) -> tuple[bool, str]:
    """no_drift: the drift CI contains 0; drifts: it lies wholly on the worse side (> 0)."""
    if metric not in run.drift_columns:
        raise ConfigError(
            f"[check.invariants] {inv.kind}: '{metric}' is not a validated drift measure "
            f"(have: {', '.join(run.drift_columns) or 'none'}; see docs/validity.md)"
        )
    if inv.measure != HEADLINE_MEASURE:
        raise ConfigError(f"[check.invariants] {inv.kind}: measure must be '{HEADLINE_MEASURE}'")
    d = drift_ci_table(run, simultaneous=False).set_index(["generator", "metric"])
    if (inv.generator, metric) not in d.index:
        return False, f"{inv.generator}: no {metric} drift measured"
    r = d.loc[(inv.generator, metric)]
    contains = bool(r["low"] <= 0 <= r["high"])
    ok = contains if inv.kind == "no_drift" else bool(r["drifts"] and r["low"] > 0)
    detail = (
        f"{inv.generator} {r['estimate']:.6g} [{r['low']:.6g}, {r['high']:.6g}] "
        f"(exact {100 * r['achieved']:.1f} % CI, n = {int(r['n'])}, p = {r['p']:.3g}, "
        f"smallest attainable p = {r['p_min']:.3g})"
    )
    return ok, detail


def _restrict(vals: dict[str, float], among: tuple[str, ...]) -> dict[str, float]:
    return {g: v for g, v in vals.items() if g in among} if among else vals


def check_invariants(
    run: RunData, invariants: tuple[Invariant, ...], generators: tuple[str, ...] = ()
) -> list[InvariantResult]:
    """Evaluate invariants; ``generators``: all check generators (ranks and ``drifts_most``
    without ``among`` compare against all of them, so they are skipped if some were not run)."""
    out = []
    present = set(run.rows["generator"])
    for inv in invariants:
        headline = run.headline if inv.kind in RANK_KINDS else (run.drift_headline or run.headline)
        metric = inv.metric or headline
        text = inv.describe(headline)
        named = {inv.generator, *([inv.than] if inv.than else []), *inv.among}
        if inv.kind != "drifts_less" and not inv.among:
            named |= set(generators)
        if not named <= present:
            missing = ", ".join(sorted(named - present))
            out.append(InvariantResult(text, True, f"skipped: {missing} not run", skipped=True))
            continue
        if metric not in run.directions:
            raise ConfigError(
                f"[check.invariants] {text}: metric '{metric}' is not measured (have: {', '.join(run.columns)})"
            )
        if inv.kind in ("ranks_first", "ranks_last"):
            vals = _restrict(_metric_means(run, metric), inv.among)
            sign = 1.0 if run.directions[metric] else -1.0  # sign * value: larger = better
            mine = sign * vals.get(inv.generator, float("nan"))
            others = {g: sign * v for g, v in vals.items() if g != inv.generator}
            if inv.kind == "ranks_first":
                ok = bool(others) and np.isfinite(mine) and all(mine > v for v in others.values())
            else:
                ok = bool(others) and np.isfinite(mine) and all(mine < v for v in others.values())
            detail = ", ".join(f"{g} {v:.6g}" for g, v in sorted(vals.items()))
        elif inv.kind in CI_KINDS:
            ok, detail = _ci_invariant(run, inv, metric)
        else:
            vals = _drift_means(run, metric, inv.measure)
            if inv.kind == "drifts_most":
                vals = _restrict(vals, inv.among)
            mine = vals.get(inv.generator, float("nan"))
            if inv.kind == "drifts_less":
                vals = _restrict(vals, (inv.generator, inv.than or ""))
                other = vals.get(inv.than or "", float("nan"))
                ok = bool(np.isfinite(mine) and np.isfinite(other) and mine < other)
            else:
                others = [v for g, v in vals.items() if g != inv.generator]
                ok = bool(others) and bool(np.isfinite(mine)) and all(mine > v for v in others)
            detail = ", ".join(f"{g} {v:.6g}" for g, v in sorted(vals.items()))
        out.append(InvariantResult(text, bool(ok), detail))
    return out


def diff_baselines(
    old: dict[str, dict[str, Any]], new: dict[str, dict[str, Any]]
) -> list[tuple[str, str, str, str]]:
    """(generator, figure, old, new) for every figure that changed (added, removed or new value)."""
    rows = []
    for gen in sorted(set(old) | set(new)):
        of = old.get(gen, {}).get("figures", {})
        nf = new.get(gen, {}).get("figures", {})
        if gen in old and gen in new:
            oi, ni = (
                old[gen].get("generator_identity") or {},
                new[gen].get("generator_identity") or {},
            )
            for key in _changed_keys(oi, ni):
                rows.append(
                    (
                        gen,
                        f"(generator) {key}",
                        json.dumps(oi.get(key, "absent")),
                        json.dumps(ni.get(key, "absent")),
                    )
                )
        for fig in sorted(set(of) | set(nf)):
            a, b = of.get(fig, "absent"), nf.get(fig, "absent")
            if a != b:
                rows.append((gen, fig, _show(a), _show(b)))
    return rows


def _changed_keys(old: Any, new: Any) -> list[str]:
    """Keys whose values differ between two identity dicts (a non-dict side: everything)."""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return [] if old == new else ["identity"]
    return sorted(k for k in set(old) | set(new) if old.get(k, "absent") != new.get(k, "absent"))


def generator_identity(name: str, cfg: Config) -> dict[str, Any]:
    """The generator's ``identity()`` (class, parameters with defaults, e.g. weight hashes),
    JSON-normalised, so a baseline notices a changed checkpoint behind an unchanged name."""

    gen = build_generator(name, cfg.generator_table(name), "cpu")
    try:
        return json.loads(json.dumps(gen.identity(), sort_keys=True, default=str))
    finally:
        gen.close()


def _show(v: Any) -> str:
    if v is None:
        return "NaN"
    return f"{v:.6g}" if isinstance(v, int | float) else str(v)


# ----------------------------------------------------------------------------- the check
@dataclass
class CheckOutcome:
    suite: str
    run_root: Path
    figures: list[FigureResult]
    invariants: list[InvariantResult]
    diff: list[tuple[str, str, str, str]]  # --update only
    updated: list[Path]
    removed: list[Path]
    wall: float

    @property
    def passed(self) -> bool:
        return all(f.ok for f in self.figures) and all(i.ok for i in self.invariants)


def run_check(
    cfg: Config,
    check: CheckConfig,
    suite_file: Path,
    root: Path,
    update: bool = False,
    scale: float = 1.0,
    show_progress: bool = False,
    console: Any = None,
    only: tuple[str, ...] = (),
) -> CheckOutcome:
    """Run ``suite_file`` fresh into ``root`` (CPU), then compare with (or rewrite) the baselines.

    ``only``: a subset of ``[check].generators`` (quick local checks); baselines of the others
    are neither compared nor touched, and invariants naming them are skipped.
    """
    import shutil
    import time

    if not scale > 0:
        raise ConfigError(f"--tolerance-scale: must be > 0, got {scale}")
    unknown = [g for g in only if g not in check.generators]
    if unknown:
        raise ConfigError(
            f"--generator {unknown[0]}: not one of [check].generators ({', '.join(check.generators)})"
        )
    gens = tuple(g for g in check.generators if g in only) if only else check.generators
    t0 = time.perf_counter()
    suite = load_suite(suite_file, datasets=cfg.datasets)
    if root.exists():
        if any(root.iterdir()) and not (root / "manifest.json").exists():
            raise ConfigError(
                f"--results {root}: exists and is not a svibench run; refusing to delete it"
            )
        shutil.rmtree(root)  # always fresh: a check never resumes stale rows
    # CPU and [check].threads (default 1): the baselines are CPU numbers whatever [run] says, and
    # one thread is both the most reproducible and, for these tiny tensors, the fastest.
    run_suite(
        suite,
        cfg,
        gens,
        check.metrics,
        root,
        device="cpu",
        threads=check.threads,
        save_videos=False,
        show_progress=show_progress,
        console=console,
    )
    run = load_run(root)
    measured = figures(run)
    identities = {g: generator_identity(g, cfg) for g in gens}
    new_docs = {
        g: baseline_doc(
            suite.name, suite.digest(), g, identities[g], check.metrics, measured.get(g, {})
        )
        for g in gens
    }
    old_docs = read_baselines(check.baselines, suite.name)
    if only:
        old_docs = {g: d for g, d in old_docs.items() if g in gens}
    diff: list[tuple[str, str, str, str]] = []
    updated: list[Path] = []
    removed: list[Path] = []
    if update:
        strip = {g: {k: v for k, v in d.items() if k != "_path"} for g, d in old_docs.items()}
        diff = diff_baselines(strip, new_docs)
        for g, doc in new_docs.items():
            path = baseline_path(check.baselines, suite.name, g)
            if strip.get(g) != doc or not path.exists():
                write_baseline(path, doc)
                updated.append(path)
        for g, doc in old_docs.items():
            if g not in new_docs:  # a generator dropped from [check].generators
                Path(doc["_path"]).unlink(missing_ok=True)
                removed.append(Path(doc["_path"]))
        results = compare(
            measured, {g: dict(d) for g, d in new_docs.items()}, check, identities, scale
        )
    else:
        results = compare(measured, old_docs, check, identities, scale)
    inv = check_invariants(run, check.invariants, check.generators)
    return CheckOutcome(
        suite.name, root, results, inv, diff, updated, removed, time.perf_counter() - t0
    )
