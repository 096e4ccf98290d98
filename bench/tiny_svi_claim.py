"""Does error recycling shrink the exposure gap of the tiny film world?

From the shipped film base (svibench/assets/tiny/film-base: m = 5, zero padding; it drifts, see
scripts/make_tiny_checkpoints.py --gate) three fine-tunes per seed, same budget, same data
stream and timestep/noise draws per seed:

* ``svi``: the film recipe (upstream scripts/train/svi_film.sh values, error recycling),
* ``control``: the same with ``use_error_recycling = false`` (clean fine-tune),
* ``oracle``: the film recipe but the y errors drawn from *measured* inference errors (the
  base's own chained conditioning minus the true one, on training worlds): tells "recycling
  cannot help this toy" apart from "the banks hold the wrong errors".

Each model is evaluated on held-out worlds (world:1..N; training worlds are >= 100000) with
svibench.exposure: per clip the colour-statistics error of the chained run and of the
teacher-forced run (same seeds). Per fine-tune seed: the late exposure gap (chained −
teacher-forced, mean over worlds and the late clips; primary) and the late teacher-forced error
(secondary: a plain loss of single-clip quality). Arm − control differences over seeds: one-sided
paired t-test and exact sign-flip permutation test (H1: arm < control), Holm-corrected over the
four (arm, measure) hypotheses per test; the minimum detectable effect (80 % power, one-sided,
Holm's first-step level) from the between-seed spread of the differences.

    python bench/tiny_svi_claim.py                         # defaults below, ~results/tiny_svi_claim
    python bench/tiny_svi_claim.py --seed-base 100 --seeds 8   # the same on held-out seeds

Resumable: fine-tunes and per-model evaluations are cached under --work.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np

ARMS = ("control", "svi", "oracle")
ORACLE_WORLDS = range(200_000, 200_016)  # training-range seeds, disjoint from eval worlds


def oracle_pool(base: str, path: Path, clips: int, steps: int) -> None:
    """Measured conditioning errors of the base's chained rollouts, in model units ([-1, 1])."""
    import torch

    from svibench.exposure import tiny_rollouts
    from svibench.models.tiny import to_model

    if path.is_file():
        return
    r = tiny_rollouts(base, list(ORACLE_WORLDS), clips, steps, forced_clips=[])
    m, errs = r["m"], []
    for own, true in zip(r["chained"], r["truth"], strict=True):
        size = own[0].shape[1]
        for k in range(1, clips):  # the conditioning clip k gets: own tail vs true tail of k - 1
            errs.append(to_model(own[k - 1][-m:], size) - to_model(true[k - 1][-m:], size))
    torch.save(torch.stack(errs).contiguous(), path)


def _train(job: tuple) -> dict[str, float]:
    import torch

    from svibench.train.tiny import TinyTrainer

    torch.set_num_threads(1)
    arm, seed, args, pool = job
    kw = dict(base_checkpoint=args.base, steps=args.steps, batch_size=args.batch_size)
    if arm == "control":
        kw["use_error_recycling"] = False
    if arm == "oracle":
        kw["y_error_pool"] = pool
    for item in args.set:  # extra trainer overrides for the recycling arms, e.g. y_error_num=5
        key, value = item.split("=", 1)
        if arm != "control":
            kw[key] = json.loads(value)
    if arm.startswith("cbup="):  # ablation arms; cbup=0.1 is the svi arm (the film default)
        kw["clean_buffer_update_prob"] = float(arm.split("=", 1)[1])
    return (
        TinyTrainer(recipe="film", **kw).train(Path(args.work) / arm / f"seed{seed}", seed).metrics
    )


def _train_and_evaluate(job: tuple) -> list[dict]:
    arm, seed, args, pool = job
    ckpt = args.base
    if arm != "base":
        _train(job)
        ckpt = str(Path(args.work) / arm / f"seed{seed}")
    return _evaluate((arm, seed, ckpt, args))


def _evaluate(job: tuple) -> list[dict]:
    import torch

    from svibench.exposure import tiny_exposure_rows

    torch.set_num_threads(1)
    arm, seed, ckpt, args = job
    cache = Path(args.work) / "eval" / f"{arm}_seed{seed}.json"
    if cache.is_file():
        return json.loads(cache.read_text())
    late = list(range(args.clips - args.late, args.clips))
    worlds = list(range(1, args.worlds + 1))
    rows = tiny_exposure_rows(ckpt, worlds, args.clips, args.sample_steps, forced_clips=late)
    rows = [{"arm": arm, "seed": seed, **r} for r in rows]
    cache.parent.mkdir(parents=True, exist_ok=True)
    cache.write_text(json.dumps(rows))
    return rows


def holm(pvals: list[float]) -> list[float]:
    """Holm step-down adjusted p-values."""
    order = np.argsort(pvals)
    out, running = [0.0] * len(pvals), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvals) - rank) * pvals[i]))
        out[i] = running
    return out


def sign_flip_p(d: np.ndarray) -> float:
    """Exact one-sided sign-flip permutation p-value for mean(d) < 0."""
    signs = np.array(list(itertools.product((1.0, -1.0), repeat=len(d))))
    means = (signs * d).mean(axis=1)
    return float(np.mean(means <= d.mean() + 1e-15))


def paired(d: np.ndarray, n_tests: int) -> dict[str, float]:
    from scipy import stats

    n = len(d)
    sd = float(d.std(ddof=1))
    half = float(stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n))
    alpha = 0.05 / n_tests  # Holm's first step: the strictest level a hypothesis may face
    mde = float((stats.t.ppf(1 - alpha, n - 1) + stats.t.ppf(0.8, n - 1)) * sd / np.sqrt(n))
    return {
        "mean": float(d.mean()),
        "ci_lo": float(d.mean()) - half,
        "ci_hi": float(d.mean()) + half,
        "p_t": float(stats.ttest_1samp(d, 0.0, alternative="less").pvalue),
        "p_perm": sign_flip_p(d),
        "mde": mde,
        "sd": sd,
    }


def per_seed(rows: list[dict], arm: str, seeds: list[int], key: str, late: int) -> np.ndarray:
    return np.array(
        [
            np.mean(
                [r[key] for r in rows if r["arm"] == arm and r["seed"] == s and r["clip"] >= late]
            )
            for s in seeds
        ]
    )


def seeds_of(rows: list[dict], *arms: str) -> list[int]:
    """Seeds evaluated for every one of ``arms`` (a cut-short run pairs what it has)."""
    sets = [{r["seed"] for r in rows if r["arm"] == a} for a in arms]
    return sorted(set.intersection(*sets)) if sets else []


def summarise(rows: list[dict], args: argparse.Namespace, seeds: list[int], secs: float) -> str:
    late = args.clips - args.late
    present = [a for a in ARMS if any(r["arm"] == a for r in rows)]
    lines = [
        "# tiny SVI claim: error recycling vs a clean fine-tune on the film world",
        "",
        f"- fine-tunes: {len(seeds)} seeds ({seeds[0]}..{seeds[-1]}) x arms {present}, "
        f"{args.steps} steps of batch {args.batch_size} from `{args.base}` (film recipe)",
        f"- evaluation: worlds 1..{args.worlds} x {args.clips} clips of 17 frames, "
        f"{args.sample_steps} sampling steps; late = clips {late}..{args.clips - 1}",
        f"- {_wall(secs)}",
        "",
        "| model | late chained | late teacher-forced | late gap |",
        "|---|---|---|---|",
    ]
    base = [r for r in rows if r["arm"] == "base" and r["clip"] >= late]
    lines.append(
        f"| base (no fine-tune) | {np.mean([r['chained'] for r in base]):.4f} | "
        f"{np.mean([r['teacher_forced'] for r in base]):.4f} | {np.mean([r['gap'] for r in base]):.4f} |"
    )
    for arm in present:
        ok = seeds_of(rows, arm)
        vals = [
            per_seed(rows, arm, ok, k, late).mean() for k in ("chained", "teacher_forced", "gap")
        ]
        lines.append(
            f"| {arm} (mean of {len(ok)} seeds) | " + " | ".join(f"{v:.4f}" for v in vals) + " |"
        )
    tests = {}
    for arm in [a for a in ("svi", "oracle") if a in present]:
        ok = seeds_of(rows, arm, "control")
        if len(ok) < 2:
            continue
        for key in ("gap", "teacher_forced"):
            d = per_seed(rows, arm, ok, key, late) - per_seed(rows, "control", ok, key, late)
            tests[(arm, key)] = (d, paired(d, 4))  # the family is 4 even if a run is cut short
    keys = list(tests)
    p_t = holm([tests[k][1]["p_t"] for k in keys])
    p_perm = holm([tests[k][1]["p_perm"] for k in keys])
    lines += [
        "",
        "Paired differences arm − control over seeds (negative = arm better); one-sided tests, "
        "Holm over the 4 hypotheses:",
        "",
        "| arm − control | seeds | mean | 95% CI | p (t) | p Holm (t) | p (sign-flip) | p Holm (sign-flip) | MDE | per-seed |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, k in enumerate(keys):
        d, t = tests[k]
        lines.append(
            f"| {k[0]} {'late gap' if k[1] == 'gap' else 'late teacher-forced'} | {len(d)} | {t['mean']:+.4f} | "
            f"[{t['ci_lo']:+.4f}, {t['ci_hi']:+.4f}] | {t['p_t']:.3f} | {p_t[i]:.3f} | "
            f"{t['p_perm']:.3f} | {p_perm[i]:.3f} | {t['mde']:.4f} | {np.round(d, 4).tolist()} |"
        )
    lines += [
        "",
        "MDE: the smallest true mean difference a one-sided paired t-test at level 0.05/4 detects "
        "with 80 % power, given the between-seed spread measured here.",
    ]
    return "\n".join(lines) + "\n"


def ablation_summary(
    rows: list[dict], args: argparse.Namespace, seeds: list[int], secs: float
) -> str:
    """clean_buffer_update_prob sweep: each value vs 0.1, two-sided, Holm over all tests."""
    from scipy import stats

    late = args.clips - args.late
    arms = sorted({r["arm"] for r in rows if r["arm"] != "base"}, key=_cbup)
    lines = [
        "# clean_buffer_update_prob on the tiny film world (exposure gap)",
        "",
        f"- fine-tunes: {len(seeds)} seeds ({seeds[0]}..{seeds[-1]}) per value, {args.steps} "
        f"steps of batch {args.batch_size} from `{args.base}`, film recipe otherwise",
        f"- evaluation: worlds 1..{args.worlds} x {args.clips} clips, {args.sample_steps} sampling "
        f"steps; late = clips {late}..{args.clips - 1}; {_wall(secs)}",
        "",
        "| clean_buffer_update_prob | seeds | late gap (95% CI over seeds) | late teacher-forced (95% CI) |",
        "|---|---|---|---|",
    ]
    for arm in arms:
        cells = []
        for key in ("gap", "teacher_forced"):
            v = per_seed(rows, arm, seeds_of(rows, arm), key, late)
            half = stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v))
            cells.append(f"{v.mean():.4f} [{v.mean() - half:.4f}, {v.mean() + half:.4f}]")
        lines.append(f"| {_cbup(arm)} | {len(seeds_of(rows, arm))} | " + " | ".join(cells) + " |")
    tests = []
    for arm in arms:
        if arm == "svi":
            continue
        ok = seeds_of(rows, arm, "svi")
        if len(ok) < 2:
            continue
        for key in ("gap", "teacher_forced"):
            d = per_seed(rows, arm, ok, key, late) - per_seed(rows, "svi", ok, key, late)
            p_t = float(stats.ttest_1samp(d, 0.0).pvalue)
            p_perm = min(1.0, 2 * min(sign_flip_p(d), sign_flip_p(-d)))
            tests.append((arm, key, d, p_t, p_perm))
    adj_t, adj_perm = holm([t[3] for t in tests]), holm([t[4] for t in tests])
    lines += [
        "",
        "Paired differences value − 0.1 over seeds; two-sided, Holm over all rows:",
        "",
        "| value − 0.1 | measure | mean | p (t) | p Holm (t) | p (sign-flip) | p Holm (sign-flip) |",
        "|---|---|---|---|---|---|---|",
    ]
    for (arm, key, d, p_t, p_perm), a_t, a_p in zip(tests, adj_t, adj_perm, strict=True):
        lines.append(
            f"| {_cbup(arm)} | late {key} | {d.mean():+.4f} | {p_t:.3f} | {a_t:.3f} | "
            f"{p_perm:.3f} | {a_p:.3f} |"
        )
    return "\n".join(lines) + "\n"


def _wall(secs: float | None) -> str:
    return (
        "summarised from cached evaluations" if secs is None else f"wall time {secs / 60:.1f} min"
    )


def _cbup(arm: str) -> float:
    return 0.1 if arm == "svi" else float(arm.split("=", 1)[1])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--seed-base", type=int, default=0)
    ap.add_argument("--steps", type=int, default=40, help="fine-tune steps per arm")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--worlds", type=int, default=8, help="held-out worlds world:1..N")
    ap.add_argument("--clips", type=int, default=8)
    ap.add_argument("--late", type=int, default=4, help="the last N clips are 'late'")
    ap.add_argument("--sample-steps", type=int, default=10)
    ap.add_argument("--base", default="film-base")
    ap.add_argument("--jobs", type=int, default=2, help="parallel worker processes")
    ap.add_argument("--work", default="results/tiny_checkpoints/claim")
    ap.add_argument("--out", default="results/tiny_svi_claim")
    ap.add_argument(
        "--summarise-only",
        action="store_true",
        help="train nothing: summarise the evaluations cached under --work",
    )
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        help="KEY=JSON trainer override for the svi/oracle arms (control unaffected)",
    )
    ap.add_argument("--arms", default=",".join(ARMS), help="subset of " + ",".join(ARMS))
    ap.add_argument(
        "--ablate-cbup",
        default="",
        help="e.g. 0,0.1,0.5,1.0: instead of the claim, sweep clean_buffer_update_prob "
        "(two-sided paired tests against 0.1)",
    )
    args = ap.parse_args()

    import torch

    from svibench.models.tiny import resolve_checkpoint

    torch.set_num_threads(1)
    args.base = str(resolve_checkpoint(args.base))
    work, out = Path(args.work), Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    seeds = list(range(args.seed_base, args.seed_base + args.seeds))
    t0 = time.time()
    pool = work / "oracle_y_errors.pt"
    oracle_pool(args.base, pool, args.clips, args.sample_steps)
    print(f"[{time.time() - t0:6.0f}s] oracle pool ready", flush=True)
    arms = tuple(args.arms.split(","))
    if args.ablate_cbup:
        arms = tuple(
            "svi" if float(v) == 0.1 else f"cbup={float(v)}" for v in args.ablate_cbup.split(",")
        )
    # control and svi first for every seed, then the rest: a cut-short run still pairs them
    runs = [(a, s) for a in arms if a in ("control", "svi") for s in seeds]
    runs += [(a, s) for a in arms if a not in ("control", "svi") for s in seeds]
    jobs = [("base", -1, args, str(pool))] + [(a, s, args, str(pool)) for a, s in runs]
    rows = []
    if args.summarise_only:
        for arm, seed, *_ in jobs:
            cache = work / "eval" / f"{arm}_seed{seed}.json"
            rows += json.loads(cache.read_text()) if cache.is_file() else []
        jobs = []
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as ex:
        for part in ex.map(_train_and_evaluate, jobs):
            rows += part
            print(
                f"[{time.time() - t0:6.0f}s] done {part[0]['arm']} seed {part[0]['seed']}",
                flush=True,
            )
    secs = None if args.summarise_only else time.time() - t0
    out.mkdir(parents=True, exist_ok=True)
    (out / "rows.json").write_text(json.dumps(rows, indent=0))
    text = (ablation_summary if args.ablate_cbup else summarise)(rows, args, seeds, secs)
    (out / "summary.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
