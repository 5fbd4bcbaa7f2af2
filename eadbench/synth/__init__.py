"""Built-in synthetic data: animated real face photos with real speech, in a real dataset layout."""

from eadbench.synth.generate import ground_truth, write_dataset, write_dataset_atomic

__all__ = ["write_dataset", "write_dataset_atomic", "ground_truth"]
