"""Generator probes: drive a method with constructed inputs and score what it makes."""
