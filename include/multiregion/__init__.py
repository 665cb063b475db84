"""Multi-region, multi-cloud ML platform operations on Airflow 3.

Layout:
- ``multiregion.core``: the pure domain (topology, planning, state machines). No Airflow, no cloud SDKs.
- ``multiregion.stores``: one object-store interface over the Airflow provider hooks (S3, GCS, Azure Blob).
- ``multiregion.traffic``: ``controller`` (every weight change) and the DNS backends.
- ``multiregion.replication``: dataset replication (scan, route, copy, validate, publish, read).
- ``multiregion.serving``: the per-region model-serving endpoint and its /health client.
- ``multiregion.webapp``: the Airflow plugin's FastAPI app (the MLflow registry webhook).

The local world (servers that stand in for the clouds) is the separate package ``localworld``,
which this package never imports.
"""

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
