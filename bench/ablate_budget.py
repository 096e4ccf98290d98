"""Time the default tiny ablation: 4 values of clean_buffer_update_prob x 1 seed, real tiny trainer.

    .venv/bin/python bench/ablate_budget.py                 # fresh run, prints the wall time
    .venv/bin/python bench/ablate_budget.py --seeds 3 --keep --name tiny_ablation

Runs ``svibench ablate --param clean_buffer_update_prob --suite suites/tiny.toml`` in a
subprocess (the real console entry point; the command is mounted here if cli.py lacks it).
Target (issue 6): < 20 minutes on 2 CPU cores for 4 values x 1 seed.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 20 * 60
LAUNCH = (
    "from svibench import cli\n"
    "if 'ablate' not in {c.name for c in cli.app.registered_commands}:\n"
    "    from svibench.commands.ablate import ablate\n"
    "    cli.app.command('ablate')(ablate)\n"
    "cli.main()\n"
)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--name", default="ablate_budget")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument(
        "--keep", action="store_true", help="resume / reuse cached trainings instead of --fresh"
    )
    ap.add_argument("extra", nargs="*", help="more svibench ablate arguments (after --)")
    args = ap.parse_args()
    cmd = [
        sys.executable,
        "-c",
        LAUNCH,
        "ablate",
        "--param",
        "clean_buffer_update_prob",
        "--suite",
        "suites/tiny.toml",
        "--seeds",
        str(args.seeds),
        "--name",
        args.name,
        "--threads",
        str(args.threads),
        *([] if args.keep else ["--fresh"]),
        *args.extra,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
    print("$", " ".join(cmd[3:]), flush=True)
    t0 = time.perf_counter()
    load0 = os.getloadavg()[0]
    rc = subprocess.call(cmd, env=env, cwd=Path(__file__).resolve().parents[1])
    wall = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = ru.ru_utime + ru.ru_stime
    # load-independent view: on an idle machine the wall time is about cpu / threads
    print(
        f"\nCPU time of the ablation: {cpu:.1f} s ({cpu / 60:.1f} min); idle-machine estimate with "
        f"{args.threads} thread(s): {cpu / args.threads / 60:.1f} min; load average at start "
        f"{load0:.1f}, at end {os.getloadavg()[0]:.1f}"
    )
    print(
        f"\nablate wall time: {wall:.1f} s ({wall / 60:.1f} min) for 4 values x {args.seeds} seed(s) "
        f"on {os.cpu_count()} cores, exit code {rc}; target < {TARGET_S / 60:.0f} min for 1 seed: "
        f"{'met' if wall < TARGET_S * args.seeds else 'MISSED'}"
    )
    try:
        import pandas as pd

        tr = pd.read_parquet(
            Path(__file__).resolve().parents[1] / "results" / args.name / "training.parquet"
        )
        print(
            tr[["generator", "status", "cached", "steps", "train_s", "final_loss"]].to_string(
                index=False
            )
        )
    except (OSError, ImportError, ValueError):
        pass
    sys.exit(rc)


if __name__ == "__main__":
    main()
