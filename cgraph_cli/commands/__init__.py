"""One module per command: what it computes and how its results are shown, found together."""
