"""Generator registry: built-ins here, third parties through the ``svibench.generators`` group."""

from typing import Any

from svibench.registry import Registry

GENERATORS = Registry(
    "generator kind",
    "svibench.generators",
    {
        "world": "svibench.generators.world:WorldGenerator",
        "replay": "svibench.generators.replay:ReplayGenerator",
        "command": "svibench.generators.command:CommandGenerator",
        "wan-chained": "svibench.generators.wan:WanChainedGenerator",
        "svi": "svibench.generators.svi:SVIGenerator",
        "diffusers-i2v": "svibench.generators.diffusers_i2v:DiffusersI2VGenerator",
        "tiny-model": "svibench.generators.tiny:TinyModelGenerator",
    },
)


def generator_schedule(name: str, table: dict[str, Any]) -> Any:
    """The prompt schedule / clip-count rule the generator ``[generators.<name>]`` will use
    (read from its class and table: nothing is built or loaded)."""
    cls = GENERATORS.get(table["kind"], where=f"[generators.{name}].kind")
    return cls.schedule_for(name, table)
