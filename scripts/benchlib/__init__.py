"""The benchmarks' modules (scripts/bench.py is the entry point); see parts.py for the parts."""
