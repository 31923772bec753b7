"""The command line: `rennet serve` and the administration and offline tools."""
