"""The ablation spec: which trainer parameters are swept over which values, with which seeds,
fixed settings, reference and evaluation, from the CLI over the ``[ablate]`` table of
svibench.toml; plus the stable text of values that names variants and table rows.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from svibench.config import Config
from svibench.errors import ConfigError
from svibench.executors import EXECUTORS
from svibench.tomlcheck import check_keys
from svibench.train.registry import TRAINERS

# Values swept when none are given. clean_buffer_update_prob: 1.0 before, 0.1 in the optimised
# SVI recipe (UPSTREAM_SVI.md:50), 0 = clean steps never update the banks.
DEFAULT_VALUES: dict[str, tuple[Any, ...]] = {"clean_buffer_update_prob": (0.0, 0.1, 0.5, 1.0)}
# The reference of the paired tests when none is given (else the trainer's default).
REFERENCE_VALUES: dict[str, Any] = {"clean_buffer_update_prob": 0.1}  # UPSTREAM_SVI.md:50
ABLATE_KEYS = {
    "name",
    "trainer",
    "suite",
    "seeds",
    "params",
    "train",
    "compare",
    "reference",
    "metrics",
    "executor",
    "workers",
    "device",
    "threads",
    "slurm",
    "videos",
    "steps",
    "base_checkpoint",
}
# [ablate] keys written for the table's own trainer: dropped when --trainer picks another one
_TRAINER_KEYS = ("params", "train", "steps", "base_checkpoint", "reference")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=+-]*$")

Swept = list[tuple[str, tuple[Any, ...]]]  # checked (parameter, values) in grid order


# ---------------------------------------------------------------------------- values and names
def parse_value(text: str) -> Any:
    """A CLI token as a TOML-like scalar: true/false, int, float, else the string itself."""
    t = text.strip()
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    for kind in (int, float):
        try:
            return kind(t)
        except ValueError:
            pass
    return t


def format_value(value: Any) -> str:
    """Stable text of a value for names and tables: 0.1, 1.0, 0.0, true, l2."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def variant_label(values: Sequence[tuple[str, Any]]) -> str:
    label = "+".join(f"{p}={format_value(v)}" for p, v in values)
    return re.sub(r"[^A-Za-z0-9._=+-]", "-", label)  # a folder name under run/rows/


# ---------------------------------------------------------------------------- the spec
@dataclass(frozen=True)
class AblationSpec:
    name: str
    trainer: str
    params: tuple[tuple[str, tuple[Any, ...]], ...]  # swept parameters in grid order
    seeds: tuple[int, ...]
    suite: Path
    train: dict[str, Any] = field(default_factory=dict)  # fixed trainer config for every variant
    compare: tuple[str, ...] = ()  # [generators] evaluated alongside (e.g. the untouched base)
    reference: tuple[tuple[str, Any], ...] = ()
    metrics: tuple[str, ...] = ()
    executor: str = "local"
    workers: int = 0
    device: str = "cpu"
    threads: int = 2
    save_videos: bool = False
    slurm: dict[str, Any] = field(default_factory=dict)

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p for p, _ in self.params)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "trainer": self.trainer,
            "suite": str(self.suite),
            "params": {p: list(v) for p, v in self.params},
            "seeds": list(self.seeds),
            "train": self.train,
            "compare": list(self.compare),
            "reference": dict(self.reference),
            "metrics": list(self.metrics),
            "executor": self.executor,
            "device": self.device,
            "threads": self.threads,
        }


def trainer_class(name: str, where: str) -> Any:
    """The registered trainer class ``name``; an unimportable plug-in is a ConfigError."""
    try:
        return TRAINERS.get(name, where=where)
    except ImportError as e:
        raise ConfigError(f"{where}: trainer '{name}' cannot be imported ({e})") from None


def _unknown_param(trainer: str, cls: Any, name: str, where: str) -> ConfigError:
    hint = difflib.get_close_matches(name, list(cls.params), n=3)
    did = f"; did you mean {', '.join(map(repr, hint))}?" if hint else ""
    return ConfigError(
        f"{where}: trainer '{trainer}' has no parameter '{name}'{did} "
        f"(known: {', '.join(sorted(cls.params))})"
    )


# ---------------------------------------------------------------------------- --param / --values
def _split_values(text: str) -> tuple[str | None, list[str]]:
    """'a=1,2' -> ('a', ['1', '2']); '1,2' -> (None, ['1', '2'])."""
    name = None
    if "=" in text:
        name, _, text = text.partition("=")
        name = name.strip()
    return name, [t for t in (s.strip() for s in text.split(",")) if t]


def _param_items(params: list[str]) -> dict[str, list[Any] | None]:
    """--param 'p' or 'p=v1,v2' -> {p: values or None (values still to come)}."""
    out: dict[str, list[Any] | None] = {}
    for item in params:
        name, vals = _split_values(item) if "=" in item else (item.strip(), None)
        if not name:
            raise ConfigError(f"--param {item!r}: expected NAME or NAME=V1,V2")
        if name in out:
            raise ConfigError(f"--param {name}: given twice")
        out[name] = [parse_value(v) for v in vals] if vals is not None else None
        if vals is not None and not vals:
            raise ConfigError(f"--param {item!r}: empty value list")
    return out


def _cli_params(params: list[str], values: list[str]) -> list[tuple[str, list[Any] | None]]:
    """--param / --values: 'p', 'p=v1,v2'; --values 'v1,v2' (in --param order) or 'p=v1,v2'."""
    out = _param_items(params)
    unnamed = []
    for item in values:
        name, vals = _split_values(item)
        if not vals:
            raise ConfigError(f"--values {item!r}: empty value list")
        parsed = [parse_value(v) for v in vals]
        if name is None:
            unnamed.append(parsed)
            continue
        if name not in out:
            raise ConfigError(
                f"--values {item!r}: '{name}' is not one of the --param names ({', '.join(out) or 'none'})"
            )
        if out[name] is not None:
            raise ConfigError(f"--values {item!r}: values for '{name}' were already given")
        out[name] = parsed
    open_slots = [p for p, v in out.items() if v is None]
    if unnamed:
        if len(unnamed) > len(open_slots):
            raise ConfigError(
                f"--values given {len(unnamed)} times but only {len(open_slots)} --param without values "
                f"({', '.join(open_slots) or 'none'}); use --values NAME=V1,V2 for grids"
            )
        for p, vals in zip(open_slots, unnamed, strict=False):
            out[p] = vals
    return list(out.items())


def _table_params(table: dict, where: str) -> list[tuple[str, list[Any] | None]]:
    """[ablate.params]: NAME = [values]."""
    ptable = table.get("params", {})
    if not isinstance(ptable, dict):
        raise ConfigError(f"{where}.params: expected a table NAME = [values]")
    swept: list[tuple[str, list[Any] | None]] = []
    for p, vals in ptable.items():
        if not isinstance(vals, list):
            raise ConfigError(f"{where}.params.{p}: expected a list of values, got {vals!r}")
        swept.append((p, list(vals)))
    return swept


def _sweep_values(spec_p: Any, p: str, vals: list[Any] | None, src: str) -> tuple[Any, ...]:
    """The checked values of one swept parameter; none given: its default sweep."""
    if vals is None:
        if p in DEFAULT_VALUES:
            vals = list(DEFAULT_VALUES[p])
        elif spec_p.choices is not None:
            vals = list(spec_p.choices)
        elif isinstance(spec_p.default, bool):
            vals = [False, True]
        else:
            raise ConfigError(f"{src} {p}: no default values to sweep; pass --values V1,V2,...")
    if not vals:
        raise ConfigError(f"{src} {p}: empty value list")
    norm = tuple(spec_p.check(p, v) for v in vals)
    if len(set(map(format_value, norm))) != len(norm):
        raise ConfigError(f"{src} {p}: duplicate values {[format_value(v) for v in norm]}")
    return norm


def _swept(
    cls: Any,
    trainer: str,
    table: dict,
    where: str,
    params: list[str] | None,
    values: list[str] | None,
) -> Swept:
    """The swept parameters with their checked values: --param/--values, else [ablate.params]."""
    if params:
        swept, src = _cli_params(params, list(values or [])), "--param"
    else:
        if values:
            raise ConfigError("--values needs --param (which parameter do the values belong to?)")
        swept, src = _table_params(table, where), f"{where}.params"
    if not swept:
        raise ConfigError(f"no parameter to ablate: pass --param NAME (or set {where}.params)")
    checked: Swept = []
    for p, vals in swept:
        if p not in cls.params:
            raise _unknown_param(trainer, cls, p, src)
        checked.append((p, _sweep_values(cls.params[p], p, vals, src)))
    return checked


# ---------------------------------------------------------------------------- fixed settings
def _fixed(
    cls: Any,
    trainer: str,
    table: dict,
    where: str,
    swept: Swept,
    sets: list[str] | None,
    cli: dict[str, tuple[Any, str]],
) -> dict[str, Any]:
    """The trainer config of every variant: [ablate.train] < [ablate] steps/base_checkpoint <
    --set < --steps/--base (``cli``: key -> (value, flag)); checked, never swept."""
    fixed = table.get("train", {})
    if not isinstance(fixed, dict):
        raise ConfigError(f"{where}.train: expected a table of trainer parameters")
    fixed = dict(fixed)
    for key in ("steps", "base_checkpoint"):
        if key in table:
            fixed[key] = table[key]
    for item in sets or []:
        k, eq, v = item.partition("=")
        if not eq or not k.strip():
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        fixed[k.strip()] = parse_value(v)
    for key, (val, flag) in cli.items():
        if val is not None:
            if key not in cls.params:
                raise ConfigError(f"{flag}: trainer '{trainer}' has no '{key}' parameter")
            fixed[key] = val
    for key, val in list(fixed.items()):
        if key not in cls.params:
            raise _unknown_param(trainer, cls, key, f"{where}.train / --set")
        fixed[key] = cls.params[key].check(key, val)
        if key in dict(swept):
            raise ConfigError(f"'{key}' is both swept (--param) and fixed (--set / [ablate.train])")
    return fixed


def _reference_items(ref_raw: Any, swept: Swept, where: str) -> dict[str, Any]:
    """--reference VALUE / NAME=VALUE (a list), or [ablate].reference (a value or a table)."""
    ref: dict[str, Any] = {}
    if isinstance(ref_raw, dict):
        ref = dict(ref_raw)
    elif isinstance(ref_raw, list):
        for item in ref_raw:
            if "=" in str(item):
                k, _, v = str(item).partition("=")
                ref[k.strip()] = parse_value(v)
            elif len(swept) == 1:
                ref[swept[0][0]] = parse_value(str(item))
            else:
                raise ConfigError(f"--reference {item!r}: with several parameters use NAME=VALUE")
    elif ref_raw is not None:
        if len(swept) != 1:
            raise ConfigError(
                f"{where}.reference: with several parameters use a table NAME = VALUE"
            )
        ref[swept[0][0]] = ref_raw
    for k in ref:
        if k not in dict(swept):
            raise ConfigError(f"--reference {k}: not a swept parameter ({', '.join(dict(swept))})")
    return ref


def _reference(cls: Any, ref: dict[str, Any], swept: Swept) -> tuple[tuple[str, Any], ...]:
    """The reference value of every swept parameter (given, else REFERENCE_VALUES, else the
    trainer's default), checked."""
    out = []
    for p, _ in swept:
        v = ref[p] if p in ref else REFERENCE_VALUES.get(p, cls.params[p].default)
        out.append((p, cls.params[p].check(p, parse_value(v) if isinstance(v, str) else v)))
    return tuple(out)


def _seeds(raw: Any, where: str) -> tuple[int, ...]:
    """A count N (seeds 0..N-1) or an explicit list of seeds >= 0, without duplicates."""
    if isinstance(raw, list):
        if not raw or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in raw
        ):
            raise ConfigError(
                f"{where}.seeds: expected a positive count or a list of seeds >= 0, got {raw!r}"
            )
        seeds = tuple(raw)
    else:
        if not isinstance(raw, int) or isinstance(raw, bool) or raw < 1:
            raise ConfigError(f"--seeds {raw!r}: expected a count >= 1")
        seeds = tuple(range(raw))
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"seeds: duplicates in {list(seeds)}")
    return seeds


def _compare(config: Config, raw: Any) -> tuple[str, ...]:
    """Comparison generators (repeatable or comma lists), each known to svibench.toml."""
    if isinstance(raw, str):
        raw = [raw]
    comp = tuple(g.strip() for item in raw for g in str(item).split(",") if g.strip())
    for g in comp:
        config.generator_table(g)
    return comp


def _run_settings(
    table: dict, where: str, executor: str | None, workers: int | None
) -> tuple[str, dict[str, Any], Any]:
    """(executor, slurm table, workers: checked by the caller after the name)."""
    ex = executor or table.get("executor", "local")
    if ex not in EXECUTORS:
        raise ConfigError(f"--executor {ex!r}: allowed values are {', '.join(EXECUTORS)}")
    slurm = table.get("slurm", {})
    if not isinstance(slurm, dict):
        raise ConfigError(f"{where}.slurm: expected a table")
    return ex, dict(slurm), workers if workers is not None else table.get("workers", 0)


def _ablate_table(config: Config, trainer: str | None) -> tuple[dict, str, str]:
    """([ablate] as it applies to the chosen trainer, where it is, the trainer name)."""
    where = f"{config.path} [ablate]"
    table = config.sections.get("ablate", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table")
    check_keys(table, ABLATE_KEYS, where)
    own = table.get("trainer", "tiny")
    if trainer and trainer != own:
        # [ablate] params / train / reference are written for its own trainer: not this one
        table = {k: v for k, v in table.items() if k not in _TRAINER_KEYS}
    return table, where, trainer or own


def build_spec(
    config: Config,
    *,
    params: list[str] | None = None,
    values: list[str] | None = None,
    seeds: int | None = None,
    suite: Path | None = None,
    trainer: str | None = None,
    steps: int | None = None,
    base_checkpoint: str | None = None,
    sets: list[str] | None = None,
    compare: list[str] | None = None,
    reference: list[str] | None = None,
    metrics: str | None = None,
    executor: str | None = None,
    workers: int | None = None,
    name: str | None = None,
    device: str | None = None,
    threads: int | None = None,
    videos: bool | None = None,
) -> AblationSpec:
    """The ablation spec: CLI values override the ``[ablate]`` table of svibench.toml."""
    table, where, trainer_name = _ablate_table(config, trainer)
    cls = trainer_class(trainer_name, "--trainer" if trainer else f"{where}.trainer")
    swept = _swept(cls, trainer_name, table, where, params, values)
    cli = {"steps": (steps, "--steps"), "base_checkpoint": (base_checkpoint, "--base")}
    fixed = _fixed(cls, trainer_name, table, where, swept, sets, cli)
    ref_raw = reference if reference is not None else table.get("reference")
    ref = _reference(cls, _reference_items(ref_raw, swept, where), swept)
    seed_t = _seeds(seeds if seeds is not None else table.get("seeds", 1), where)
    suite_path = suite or (
        config.path.resolve().parent / table["suite"] if "suite" in table else None
    )
    if suite_path is None:
        raise ConfigError(f"no evaluation suite: pass --suite SUITE.toml (or set {where}.suite)")
    comp_t = _compare(config, compare if compare is not None else table.get("compare", []))
    metrics_spec = metrics if metrics is not None else table.get("metrics")
    metrics_t = (
        tuple(metrics_spec) if isinstance(metrics_spec, list) else config.metric_set(metrics_spec)
    )
    ex, slurm, w = _run_settings(table, where, executor, workers)
    nm = name or table.get("name") or "ablate_" + "+".join(p for p, _ in swept)
    if not _NAME.match(nm):
        raise ConfigError(f"--name {nm!r}: use letters, digits and . _ = + - (it is a folder name)")
    if not isinstance(w, int) or w < 0:
        raise ConfigError(
            f"--workers {w!r}: expected an integer >= 0 (0 = as many as the cores allow)"
        )
    vid = videos if videos is not None else table.get("videos", False)
    return AblationSpec(
        name=nm,
        trainer=trainer_name,
        params=tuple(swept),
        seeds=seed_t,
        suite=Path(suite_path),
        train=fixed,
        compare=comp_t,
        reference=ref,
        metrics=metrics_t,
        executor=ex,
        workers=w,
        device=config.resolve_device(device or table.get("device")),
        threads=int(threads or table.get("threads") or config.threads),
        save_videos=bool(vid),
        slurm=slurm,
    )
