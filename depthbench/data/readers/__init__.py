"""Preparers, one module per source file format; each registers itself with
``depthbench.prepare.register_preparer``."""
