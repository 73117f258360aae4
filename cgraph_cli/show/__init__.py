"""What every command shows alike: numbers as text, tables, JSON, CSV, YAML and plots. Nothing here computes."""
