"""Turn the core's results into files and pictures."""
