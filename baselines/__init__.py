"""Adapters for published talking-head methods (importable as ``eadbench_baselines``).

Each sub-package drives the method's official repository as a subprocess; see its README.md.
"""
