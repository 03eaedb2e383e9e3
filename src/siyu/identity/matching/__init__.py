"""Probabilistic matching (Fellegi–Sunter) of customer records no strong identifier links."""
