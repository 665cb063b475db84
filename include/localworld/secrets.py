"""Credentials of the local world: generated once per state directory, never in code.

Stored in ``<state>/secrets.json`` (mode 0600). Each can be pinned from the environment
(e.g. MR_AIRFLOW_ADMIN_PASSWORD) for users who want a fixed login.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class WorldSecrets:
    s3_access_key: str
    s3_secret_key: str
    azure_account_key: str  # base64, as Azure account keys are
    pdns_api_key: str
    postgres_password: str
    airflow_db_password: str
    airflow_admin_password: str
    airflow_jwt_secret: str
    airflow_fernet_key: str
    mlflow_webhook_secret: str  # signs the primary registry's webhook deliveries
    mlflow_webhook_key: str  # Fernet key MLflow encrypts stored webhook secrets with (same in every worker)


def _generate() -> WorldSecrets:
    return WorldSecrets(
        s3_access_key="MR" + secrets.token_hex(9).upper(),
        s3_secret_key=secrets.token_urlsafe(30),
        azure_account_key=base64.b64encode(secrets.token_bytes(64)).decode(),
        pdns_api_key=secrets.token_urlsafe(24),
        postgres_password=secrets.token_urlsafe(18),
        airflow_db_password=secrets.token_urlsafe(18),
        airflow_admin_password=os.environ.get("MR_AIRFLOW_ADMIN_PASSWORD") or secrets.token_urlsafe(9),
        airflow_jwt_secret=secrets.token_urlsafe(64),
        airflow_fernet_key=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        mlflow_webhook_secret=secrets.token_urlsafe(32),
        mlflow_webhook_key=base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
    )


def load_or_create_secrets(state_dir: Path) -> WorldSecrets:
    path = state_dir / "secrets.json"
    if path.exists():
        data = json.loads(path.read_text())
        missing = {k: v for k, v in asdict(_generate()).items() if k not in data}
        if pinned := os.environ.get("MR_AIRFLOW_ADMIN_PASSWORD"):
            data["airflow_admin_password"] = pinned
        if not missing:
            return WorldSecrets(**data)
        created = WorldSecrets(**{**data, **missing})  # a state dir from an older version: add the new ones
    else:
        state_dir.mkdir(parents=True, exist_ok=True)
        created = _generate()
    # Write-then-rename so a crash never leaves a truncated secrets file.
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(asdict(created), fh, indent=2)
    os.replace(tmp, path)
    return created
