"""cgraph: evaluate computational graphs forward and backward, node by node.

From Python: `import cgraph_cli as cg; g = cg.load("graphs/apples.yaml"); g.run().grads`
(see cgraph_cli/api.py). The names below are imported on first use, so the
command line starts without them.
"""

__version__ = "0.1.0"

__all__ = ["Error", "Graph", "Run", "example", "examples", "load", "loads"]


def __getattr__(name: str):
    if name in __all__:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'cgraph_cli' has no attribute {name!r}")
