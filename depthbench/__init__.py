"""depthbench: monocular depth estimation benchmark."""

__version__ = "0.1.0"
