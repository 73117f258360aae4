"""cgraph: evaluate computational graphs forward and backward, node by node."""

__version__ = "0.1.0"
