"""Renderers of the analysis tables: Markdown (leaderboard, ablation), plots, console output."""
