"""Statistical building blocks shared by the analysis steps (resampling plans for panels)."""

from .resample import PanelResampler, circular_block_periods, draw_clusters, spawn_generators

__all__ = ["PanelResampler", "circular_block_periods", "draw_clusters", "spawn_generators"]
