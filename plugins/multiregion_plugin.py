"""The project's Airflow plugin: its FastAPI app, mounted in the API server under /multiregion,
and the Regions page (a React app in Airflow's UI at /plugin/regions, served by that app)."""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from multiregion.webapp.app import create_app
from multiregion.webapp.regions import bundle_url

PREFIX = "/multiregion"


class MultiregionPlugin(AirflowPlugin):
    name = "multiregion"
    fastapi_apps = [{"app": create_app(), "url_prefix": PREFIX, "name": "Multi-region ML platform"}]
    react_apps = [
        {
            "name": "Regions",
            "bundle_url": bundle_url(PREFIX),
            "destination": "nav",
            "url_route": "regions",
            "nav_top_level": True,
        }
    ]
