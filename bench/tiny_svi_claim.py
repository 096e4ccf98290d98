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
    from svibench.train.tiny_model import to_model

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
    return (
        TinyTrainer(recipe="film", **kw).train(Path(args.work) / arm / f"seed{seed}", seed).metrics
    )


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


def summarise(rows: list[dict], args: argparse.Namespace, seeds: list[int], secs: float) -> str:
    late = args.clips - args.late
    lines = [
        "# tiny SVI claim: error recycling vs a clean fine-tune on the film world",
        "",
        f"- fine-tunes: {len(seeds)} seeds ({seeds[0]}..{seeds[-1]}) x arms {list(ARMS)}, "
        f"{args.steps} steps of batch {args.batch_size} from `{args.base}` (film recipe)",
        f"- evaluation: worlds 1..{args.worlds} x {args.clips} clips of 17 frames, "
        f"{args.sample_steps} sampling steps; late = clips {late}..{args.clips - 1}",
        f"- wall time {secs / 60:.1f} min",
        "",
        "| model | late chained | late teacher-forced | late gap |",
        "|---|---|---|---|",
    ]
    base = [r for r in rows if r["arm"] == "base" and r["clip"] >= late]
    lines.append(
        f"| base (no fine-tune) | {np.mean([r['chained'] for r in base]):.4f} | "
        f"{np.mean([r['teacher_forced'] for r in base]):.4f} | {np.mean([r['gap'] for r in base]):.4f} |"
    )
    for arm in ARMS:
        vals = [
            per_seed(rows, arm, seeds, k, late).mean() for k in ("chained", "teacher_forced", "gap")
        ]
        lines.append(f"| {arm} (mean of seeds) | " + " | ".join(f"{v:.4f}" for v in vals) + " |")
    tests = {}
    for arm in ("svi", "oracle"):
        for key in ("gap", "teacher_forced"):
            d = per_seed(rows, arm, seeds, key, late) - per_seed(rows, "control", seeds, key, late)
            tests[(arm, key)] = (d, paired(d, 4))
    keys = list(tests)
    p_t = holm([tests[k][1]["p_t"] for k in keys])
    p_perm = holm([tests[k][1]["p_perm"] for k in keys])
    lines += [
        "",
        "Paired differences arm − control over seeds (negative = arm better); one-sided tests, "
        "Holm over the 4 hypotheses:",
        "",
        "| arm − control | mean | 95% CI | p (t) | p Holm (t) | p (sign-flip) | p Holm (sign-flip) | MDE | per-seed |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for i, k in enumerate(keys):
        d, t = tests[k]
        lines.append(
            f"| {k[0]} {'late gap' if k[1] == 'gap' else 'late teacher-forced'} | {t['mean']:+.4f} | "
            f"[{t['ci_lo']:+.4f}, {t['ci_hi']:+.4f}] | {t['p_t']:.3f} | {p_t[i]:.3f} | "
            f"{t['p_perm']:.3f} | {p_perm[i]:.3f} | {t['mde']:.4f} | {np.round(d, 4).tolist()} |"
        )
    lines += [
        "",
        "MDE: the smallest true mean difference a one-sided paired t-test at level 0.05/4 detects "
        "with 80 % power, given the between-seed spread measured here.",
    ]
    return "\n".join(lines) + "\n"


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
    args = ap.parse_args()

    import torch

    from svibench.train.tiny_model import resolve_checkpoint

    torch.set_num_threads(1)
    args.base = str(resolve_checkpoint(args.base))
    work, out = Path(args.work), Path(args.out)
    work.mkdir(parents=True, exist_ok=True)
    seeds = list(range(args.seed_base, args.seed_base + args.seeds))
    t0 = time.time()
    pool = work / "oracle_y_errors.pt"
    oracle_pool(args.base, pool, args.clips, args.sample_steps)
    print(f"[{time.time() - t0:6.0f}s] oracle pool ready", flush=True)
    runs = [(arm, s) for s in seeds for arm in ARMS]
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as ex:
        for (arm, s), metrics in zip(
            runs, ex.map(_train, [(a, s, args, str(pool)) for a, s in runs]), strict=True
        ):
            print(
                f"[{time.time() - t0:6.0f}s] trained {arm} seed {s}: loss {metrics['final_loss']:.4f}",
                flush=True,
            )
        models = [("base", -1, args.base)] + [(a, s, str(work / a / f"seed{s}")) for a, s in runs]
        rows = [r for part in ex.map(_evaluate, [(*mdl, args) for mdl in models]) for r in part]
    secs = time.time() - t0
    out.mkdir(parents=True, exist_ok=True)
    (out / "rows.json").write_text(json.dumps(rows, indent=0))
    text = summarise(rows, args, seeds, secs)
    (out / "summary.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
