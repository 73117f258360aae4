"""Files in: YAML and JSON text, formulas and array files to a Draft, every error located in the file."""
