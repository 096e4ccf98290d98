"""Trainer registry (third parties: the ``svibench.trainers`` entry-point group)."""

from svibench.registry import Registry

TRAINERS = Registry(
    "trainer",
    "svibench.trainers",
    {
        "tiny": "svibench.train.tiny:TinyTrainer",
        "wan-lora": "svibench.train.wan_lora:WanLoraTrainer",
        "command": "svibench.train.command:CommandTrainer",
    },
)
