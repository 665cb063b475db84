"""The project's Airflow plugin app (FastAPI, mounted in the API server under /multiregion)."""
