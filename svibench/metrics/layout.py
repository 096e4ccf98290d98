"""The table layout (``layout.toml`` beside this file): which columns and drift summaries the
analysis tables report and which lead. Data, not code: the tables, the leaderboard, the ablation
and the check read it through :data:`LAYOUT` (drift names through ``svibench.analysis.drift``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from svibench.tomlcheck import check_keys, read_toml

LAYOUT_FILE = Path(__file__).with_name("layout.toml")
_KEYS = {
    "quality": {"headline"},
    "drift": {
        "measures",
        "headline_measure",
        "size_measures",
        "validity_summaries",
        "metrics",
        "two_sided",
    },
    "ablation": {"tested_measures"},
}


@dataclass(frozen=True)
class TableLayout:
    quality_headline: tuple[str, ...]  # headline column preference
    drift_measures: tuple[str, ...]  # drift summaries the tables report
    drift_headline_measure: str
    drift_size_measures: tuple[str, ...]  # larger = more drift
    validity_summaries: tuple[str, ...]
    drift_metrics: tuple[str, ...]  # validated drift metrics, headline preference order
    two_sided: tuple[str, ...]  # drift metrics where neither direction is "worse"
    ablation_tested: tuple[str, ...]  # "mean" or drift summaries


def _names(table: dict, key: str, where: str) -> tuple[str, ...]:
    value = table.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}.{key}: expected a list of names, got {value!r}")
    if len(set(value)) != len(value):
        raise ValueError(f"{where}.{key}: duplicate names in {value}")
    return tuple(value)


def load_layout(path: Path = LAYOUT_FILE) -> TableLayout:
    """Read and check a layout file (a broken shipped file is a bug: it fails at import)."""
    data = read_toml(path)
    check_keys(data, set(_KEYS), str(path))
    for section, keys in _KEYS.items():
        check_keys(data.get(section, {}), keys, f"{path} [{section}]")
    quality, drift, ablation = (data.get(s, {}) for s in _KEYS)
    where = f"{path} [drift]"
    layout = TableLayout(
        quality_headline=_names(quality, "headline", f"{path} [quality]"),
        drift_measures=_names(drift, "measures", where),
        drift_headline_measure=str(drift.get("headline_measure")),
        drift_size_measures=_names(drift, "size_measures", where),
        validity_summaries=_names(drift, "validity_summaries", where),
        drift_metrics=_names(drift, "metrics", where),
        two_sided=_names(drift, "two_sided", where),
        ablation_tested=_names(ablation, "tested_measures", f"{path} [ablation]"),
    )
    if layout.drift_headline_measure not in layout.drift_measures:
        raise ValueError(f"{where}.headline_measure: not one of measures {layout.drift_measures}")
    if not set(layout.two_sided) <= set(layout.drift_metrics):
        raise ValueError(f"{where}.two_sided: every name must be one of metrics")
    return layout


LAYOUT = load_layout()
