"""VBench-exact quality dimensions (see baselines/README.md for quality_score)."""
