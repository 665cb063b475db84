"""Per-region model serving: serves the region's model under its alias (e.g. ``champion``).

Health reports the version served; ``/predict`` runs the pyfunc model; ``/metrics`` is for
Prometheus. The alias is re-resolved periodically, so serving follows an alias move.
"""
