"""Multi-region, multi-cloud ML platform operations on Airflow 3.

Layout:
- ``multiregion.core``: the pure domain (topology, planning, state machines). No Airflow, no cloud SDKs.
- ``multiregion.stores``: one object-store interface over the Airflow provider hooks (S3, GCS, Azure Blob).
- ``localworld``: the local multi-cloud world (servers that stand in for the clouds).
- ``multiregion.serving``: the per-region model-serving endpoint.
"""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
