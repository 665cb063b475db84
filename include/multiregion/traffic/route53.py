"""Route53 weighted records (boto3 through the Amazon provider's AWS connection).

One weighted A record per region (SetIdentifier = the region's traffic.set_identifier). Weights
are validated to 0..255 before any call: Route53 enforces that, moto does not.

When regions declare their nearest clients by geolocation (``traffic.nearest.geo``), the record
becomes geolocation records, each an alias to a weighted set of its own: ``near-<id>.<record>``
holds that location's shares (``core.nearest``, scaled to Route53's 0..255), and the default
location (``*``) points at ``any.<record>``, which holds the controller's weights as before.
Every write is one change batch, applied atomically.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from multiregion.core.nearest import SCALE, locations
from multiregion.traffic.base import TrafficBackend, TrafficBackendError

MAX_WEIGHT = 255
_GEO_FIELDS = {"continent": "ContinentCode", "country": "CountryCode", "subdivision": "SubdivisionCode"}


def route53_weight(share: int) -> int:
    """A location's share (of SCALE) as a Route53 weight; a positive share never rounds to 0."""
    return max(1, round(share * MAX_WEIGHT / SCALE)) if share > 0 else 0


class Route53Backend(TrafficBackend):
    @cached_property
    def client(self) -> Any:
        from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook

        return AwsBaseHook(aws_conn_id=self.traffic.backend.conn_id, client_type="route53").get_conn()

    @property
    def _geo_regions(self) -> list:
        return [r for r in self.topology.regions if r.traffic.nearest and r.traffic.nearest.geo]

    def _weights_name(self) -> str:
        return f"any.{self.traffic.record}" if self._geo_regions else self.traffic.record

    def _near_name(self, region) -> str:
        return f"near-{region.traffic.set_identifier}.{self.traffic.record}"

    def _records(self, name: str) -> dict[str, dict]:
        out: dict[str, dict] = {}
        paginator = self.client.get_paginator("list_resource_record_sets")
        pages = paginator.paginate(HostedZoneId=self.traffic.backend.hosted_zone_id, StartRecordName=name,
                                   StartRecordType="A")  # fmt: skip
        for page in pages:
            for rrset in page["ResourceRecordSets"]:
                if rrset["Name"].rstrip(".") != name.rstrip(".") or rrset["Type"] != "A":
                    return out
                if "SetIdentifier" in rrset:
                    out[rrset["SetIdentifier"]] = rrset
        return out

    def get_weights(self) -> dict[str, int]:
        records = self._records(self._weights_name())
        return {r.name: int(records.get(r.traffic.set_identifier, {}).get("Weight", 0)) for r in self.topology.regions}

    def _weighted(self, name: str, weights: dict[str, int]) -> list[dict]:
        return [
            {
                "Action": "UPSERT",
                "ResourceRecordSet": {
                    "Name": name,
                    "Type": "A",
                    "SetIdentifier": self.topology.region(region).traffic.set_identifier,
                    "Weight": weight,
                    "TTL": self.traffic.ttl,
                    "ResourceRecords": [{"Value": self.topology.region(region).traffic.address}],
                },
            }
            for region, weight in weights.items()
        ]

    def _geolocation(self, set_id: str, location: dict[str, str], target: str) -> dict:
        alias = {"HostedZoneId": self.traffic.backend.hosted_zone_id, "DNSName": target, "EvaluateTargetHealth": False}
        return {
            "Action": "UPSERT",
            "ResourceRecordSet": {"Name": self.traffic.record, "Type": "A", "SetIdentifier": set_id,
                                  "GeoLocation": location, "AliasTarget": alias},
        }  # fmt: skip

    def _apply(self, weights: dict[str, int]) -> None:
        changes = self._weighted(self._weights_name(), weights)
        if self._geo_regions:
            near = {loc.region: loc.shares for loc in locations(self.topology, weights)}
            # Plain weighted records left at the name from before (one routing policy per name)
            old = [r for r in self._records(self.traffic.record).values() if "Weight" in r]
            changes = [{"Action": "DELETE", "ResourceRecordSet": r} for r in old] + changes
            for region in self._geo_regions:
                shares = {name: route53_weight(near[region.name].get(name, 0)) for name in self.topology.region_names}
                changes += self._weighted(self._near_name(region), shares)
                geo = {_GEO_FIELDS[k]: v for k, v in region.traffic.nearest.geo.items()}
                changes.append(self._geolocation(f"near-{region.traffic.set_identifier}", geo, self._near_name(region)))
            changes.append(self._geolocation("any", {"CountryCode": "*"}, self._weights_name()))
        try:  # one change batch: Route53 applies it atomically
            self.client.change_resource_record_sets(
                HostedZoneId=self.traffic.backend.hosted_zone_id,
                ChangeBatch={"Comment": "multiregion traffic weights", "Changes": changes},
            )
        except Exception as exc:
            raise TrafficBackendError(f"Route53 change of {self.traffic.record} failed: {exc}") from exc
