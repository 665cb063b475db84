"""Route53 weighted records (boto3 through the Amazon provider's AWS connection).

One weighted A record per region (SetIdentifier = the region's traffic.set_identifier). Weights
are validated to 0..255 before any call: Route53 enforces that, moto does not.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from multiregion.traffic.base import TrafficBackend, TrafficBackendError


class Route53Backend(TrafficBackend):
    @cached_property
    def client(self) -> Any:
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        return AwsBaseHook(aws_conn_id=self.traffic.backend.conn_id, client_type="route53").get_conn()

    def _records(self) -> dict[str, dict]:
        name = self.traffic.record
        out: dict[str, dict] = {}
        paginator = self.client.get_paginator("list_resource_record_sets")
        pages = paginator.paginate(
            HostedZoneId=self.traffic.backend.hosted_zone_id, StartRecordName=name, StartRecordType="A"
        )
        for page in pages:
            for rrset in page["ResourceRecordSets"]:
                if rrset["Name"].rstrip(".") != name.rstrip(".") or rrset["Type"] != "A":
                    return out
                if "SetIdentifier" in rrset:
                    out[rrset["SetIdentifier"]] = rrset
        return out

    def get_weights(self) -> dict[str, int]:
        records = self._records()
        return {r.name: int(records.get(r.traffic.set_identifier, {}).get("Weight", 0)) for r in self.topology.regions}

    def _apply(self, weights: dict[str, int]) -> None:
        changes = []
        for name, weight in weights.items():
            region = self.topology.region(name)
            changes.append(
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": self.traffic.record,
                        "Type": "A",
                        "SetIdentifier": region.traffic.set_identifier,
                        "Weight": weight,
                        "TTL": self.traffic.ttl,
                        "ResourceRecords": [{"Value": region.traffic.address}],
                    },
                }
            )
        try:  # one change batch: Route53 applies it atomically
            self.client.change_resource_record_sets(
                HostedZoneId=self.traffic.backend.hosted_zone_id,
                ChangeBatch={"Comment": "multiregion traffic weights", "Changes": changes},
            )
        except Exception as exc:
            raise TrafficBackendError(f"Route53 change of {self.traffic.record} failed: {exc}") from exc
