"""The FOCUS 1.2 cost table we publish: its columns, their types, nullability and allowed values (pure).

Input may be FOCUS 1.0-1.3 as the clouds export it; ``canonical`` maps their spellings onto 1.2's
(1.0's ``On-Demand``/``Commitment-Based`` pricing categories, ``Usage-based``, any letter case).
Columns that are not FOCUS columns are kept with an ``x_`` prefix (provider columns); ours are
``x_Cloud``, ``x_Region`` (the topology's region name) and ``x_ChargeDate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

FOCUS_VERSION = "1.2"


class Kind(StrEnum):
    DECIMAL = "decimal"
    DATETIME = "datetime"
    STRING = "string"
    JSON = "json"  # a JSON object with scalar values, stored as its text


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    nullable: bool = True
    allowed: tuple[str, ...] = ()  # a closed list of values (null still allowed if nullable)
    mandatory: bool = False  # must be present in every input export


SERVICE_CATEGORIES = (
    "AI and Machine Learning", "Analytics", "Business Applications", "Compute", "Databases", "Developer Tools",
    "Multicloud", "Identity", "Integration", "Internet of Things", "Management and Governance", "Media",
    "Migration", "Mobile", "Networking", "Security", "Storage", "Web", "Other",
)  # fmt: skip
CHARGE_CATEGORIES = ("Usage", "Purchase", "Tax", "Credit", "Adjustment")
PRICING_CATEGORIES = ("Standard", "Dynamic", "Committed", "Other")
D, T, S, J = Kind.DECIMAL, Kind.DATETIME, Kind.STRING, Kind.JSON


def _c(name: str, kind: Kind, nullable: bool = True, allowed: tuple[str, ...] = (), mandatory: bool = False):
    return Column(name, kind, nullable, allowed, mandatory)


COLUMNS: tuple[Column, ...] = (
    _c("AvailabilityZone", S),
    _c("BilledCost", D, False, mandatory=True),
    _c("BillingAccountId", S, False, mandatory=True),
    _c("BillingAccountName", S, mandatory=True),
    _c("BillingAccountType", S),
    _c("BillingCurrency", S, False, mandatory=True),
    _c("BillingPeriodEnd", T, False, mandatory=True),
    _c("BillingPeriodStart", T, False, mandatory=True),
    _c("CapacityReservationId", S),
    _c("CapacityReservationStatus", S, allowed=("Used", "Unused")),
    _c("ChargeCategory", S, False, CHARGE_CATEGORIES, mandatory=True),
    _c("ChargeClass", S, allowed=("Correction",), mandatory=True),
    _c("ChargeDescription", S, mandatory=True),
    _c("ChargeFrequency", S, allowed=("One-Time", "Recurring", "Usage-Based")),
    _c("ChargePeriodEnd", T, False, mandatory=True),
    _c("ChargePeriodStart", T, False, mandatory=True),
    _c("CommitmentDiscountCategory", S, allowed=("Spend", "Usage")),
    _c("CommitmentDiscountId", S),
    _c("CommitmentDiscountName", S),
    _c("CommitmentDiscountQuantity", D),
    _c("CommitmentDiscountStatus", S, allowed=("Used", "Unused")),
    _c("CommitmentDiscountType", S),
    _c("CommitmentDiscountUnit", S),
    _c("ConsumedQuantity", D),
    _c("ConsumedUnit", S),
    _c("ContractedCost", D, False, mandatory=True),
    _c("ContractedUnitPrice", D),
    _c("EffectiveCost", D, False, mandatory=True),
    _c("InvoiceId", S),
    _c("InvoiceIssuerName", S, False, mandatory=True),
    _c("ListCost", D, False, mandatory=True),
    _c("ListUnitPrice", D),
    _c("PricingCategory", S, allowed=PRICING_CATEGORIES),
    _c("PricingCurrency", S),
    _c("PricingCurrencyContractedUnitPrice", D),
    _c("PricingCurrencyEffectiveCost", D),
    _c("PricingCurrencyListUnitPrice", D),
    _c("PricingQuantity", D, mandatory=True),
    _c("PricingUnit", S, mandatory=True),
    _c("ProviderName", S, False, mandatory=True),
    _c("PublisherName", S, False, mandatory=True),
    _c("RegionId", S),
    _c("RegionName", S),
    _c("ResourceId", S),
    _c("ResourceName", S),
    _c("ResourceType", S),
    _c("ServiceCategory", S, False, SERVICE_CATEGORIES, mandatory=True),
    _c("ServiceName", S, False, mandatory=True),
    _c("ServiceSubcategory", S, False),  # filled with "Other (<ServiceCategory>)" where an export has none
    _c("SkuId", S),
    _c("SkuMeter", S),
    _c("SkuPriceDetails", J),
    _c("SkuPriceId", S),
    _c("SubAccountId", S),
    _c("SubAccountName", S),
    _c("SubAccountType", S),
    _c("Tags", J),
)
BY_NAME = {c.name: c for c in COLUMNS}
MANDATORY = tuple(c.name for c in COLUMNS if c.mandatory)
# Prorated when a charge spanning several days is split into charge days.
PRORATED = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "PricingQuantity", "ConsumedQuantity",
            "PricingCurrencyEffectiveCost", "CommitmentDiscountQuantity")  # fmt: skip
# Spellings of earlier FOCUS versions and real exports (matched case-insensitively).
_ALIASES = {
    "PricingCategory": {"on-demand": "Standard", "commitment-based": "Committed"},
}
# Columns renamed since 1.0 (read under either name).
RENAMED = {"ServiceProviderName": "ProviderName", "HostProviderName": "PublisherName"}
# What we add to every row.
X_CLOUD, X_REGION, X_CHARGE_DATE = "x_Cloud", "x_Region", "x_ChargeDate"
OURS = (X_CLOUD, X_REGION, X_CHARGE_DATE)


def canonical(column: str, value: str) -> str | None:
    """The 1.2 spelling of ``value`` in a closed-list column, or None if it is not an allowed value."""
    spec = BY_NAME[column]
    lowered = value.strip().lower()
    if alias := _ALIASES.get(column, {}).get(lowered):
        return alias
    for allowed in spec.allowed:
        if allowed.lower() == lowered:
            return allowed
    return None


def provider_column(name: str) -> str:
    """A non-FOCUS column's name in our table (``x_`` prefixed once)."""
    return name if name.startswith("x_") else f"x_{name}"
