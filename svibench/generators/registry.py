"""Generator registry: built-ins here, third parties through the ``svibench.generators`` group."""

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
