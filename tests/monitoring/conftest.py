"""Fixtures of the monitoring tests: the plugin's app under TestClient, and Airflow JWTs minted for
an admin and a viewer (signed with the world's JWT secret, so the running API server accepts them)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def tokens():
    from airflow.api_fastapi.app import create_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    manager = create_auth_manager()
    return {
        role: manager.generate_jwt(SimpleAuthManagerUser(username=role, role=role.upper()))
        for role in ("admin", "viewer")
    }


@pytest.fixture(scope="session")
def plugin_client():
    from airflow.api_fastapi.app import init_auth_manager
    from fastapi.testclient import TestClient

    from multiregion.webapp.app import create_app

    init_auth_manager()  # what the API server does at start; the plugin's routes verify tokens with it
    return TestClient(create_app())


@pytest.fixture
def auth(tokens):
    return lambda role: {"Authorization": f"Bearer {tokens[role]}"}
