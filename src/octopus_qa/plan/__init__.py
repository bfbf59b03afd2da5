"""The run, decided once: the plan every stage reads, and the preflight that opens it."""
