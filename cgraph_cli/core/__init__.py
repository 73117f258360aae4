"""The core: ops, graphs and the engines that evaluate them forward and backward. Nothing here prints or reads files."""
