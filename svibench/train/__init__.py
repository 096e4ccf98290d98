"""Training: SVI's error recycling (error banks, injection) and trainers (tiny, wan-lora, command)."""
