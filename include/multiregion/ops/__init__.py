"""Task bodies: the code each DAG task runs, kept out of the DAG files so those parse fast.

They combine the pure core with the adapters (stores, registries, traffic, monitoring).
"""
