"""The local multi-cloud world: real servers that speak each cloud's protocol, on loopback.

``python -m localworld up|down|status|env|restart SERVICE`` (wrapped by scripts/world.sh).
Nothing here is used by the DAGs in production; DAGs reach these servers only through
Airflow Connections generated from the topology, exactly as they would reach a real cloud.
"""
