"""The project's Airflow plugin: its FastAPI app, mounted in the API server under /multiregion."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from multiregion.webapp.app import create_app


class MultiregionPlugin(AirflowPlugin):
    name = "multiregion"
    fastapi_apps = [{"app": create_app(), "url_prefix": "/multiregion", "name": "Multi-region ML platform"}]
