from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

ACTION = Field(
    description="protect (encrypt), bypass (send in clear) or drop",
    json_schema_extra={"enum": ["protect", "bypass", "drop"]},
)
BETWEEN = Field(
    description="The two ends: subnet names or CIDRs inside known subnets",
    examples=[["hq-lan", "branch-lan"]],
)
PROTOCOL = Field(
    None, description="tcp, udp, icmp, sctp, ipv6-icmp or a number 1-255; none: any"
)
PORTS = Field(None, description='"22" or "8000-8080"; only with tcp, udp or sctp')
MODE = Field(
    "tunnel",
    description="tunnel or transport",
    json_schema_extra={"enum": ["tunnel", "transport"]},
)
KEYING = Field(
    "ike", description="ike or manual", json_schema_extra={"enum": ["ike", "manual"]}
)


class PolicyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="Unique", examples=["hq-branch"])
    between: list[str] = BETWEEN
    action: str = ACTION
    protocol: str | int | None = PROTOCOL
    ports: str | int | None = PORTS
    mode: str = MODE
    keying: str = KEYING


class PolicyReplace(PolicyCreate):
    """The body of a PUT: the name comes from the path."""

    name: str | None = Field(None, description="If given, must match the path")


class PolicyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, description="A new name renames the policy")
    between: list[str] | None = None
    action: str | None = None
    protocol: str | int | None = None
    ports: str | int | None = None
    mode: str | None = None
    keying: str | None = None


class PolicyRead(BaseModel):
    name: str
    between: list[str]
    action: str
    protocol: str | int | None
    ports: str | None
    mode: str
    keying: str
