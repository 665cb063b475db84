"""AWS Cost Explorer through the AWS connection: daily usage totals to cross-check the FOCUS export."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal


class CostExplorerUnavailable(Exception):
    """Cost Explorer could not be asked (unreachable, refused, throttled): the cross-check is skipped."""


def daily_usage_totals(conn_id: str, start: date, end: date) -> dict[str, Decimal]:
    """{day: UnblendedCost} of usage records for [start, end] (days inclusive)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return _totals(conn_id, start, end)
    except (BotoCoreError, ClientError) as exc:
        raise CostExplorerUnavailable(f"Cost Explorer via connection {conn_id!r}: {exc}") from exc


def _totals(conn_id: str, start: date, end: date) -> dict[str, Decimal]:
    from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

    client = AwsBaseHook(aws_conn_id=conn_id, client_type="ce").get_conn()
    out: dict[str, Decimal] = {}
    kwargs = {
        "TimePeriod": {"Start": start.isoformat(), "End": (end + timedelta(days=1)).isoformat()},
        "Granularity": "DAILY",
        "Metrics": ["UnblendedCost"],
        "Filter": {"Dimensions": {"Key": "RECORD_TYPE", "Values": ["Usage"]}},
    }
    while True:
        page = client.get_cost_and_usage(**kwargs)
        for result in page.get("ResultsByTime", []):
            day = result["TimePeriod"]["Start"]
            if start.isoformat() <= day <= end.isoformat():
                out[day] = Decimal(result["Total"]["UnblendedCost"]["Amount"])
        token = page.get("NextPageToken")
        if not token:
            return out
        kwargs["NextPageToken"] = token
