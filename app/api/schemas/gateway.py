from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class GatewayBase(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GatewayCreate(GatewayBase):
    name: str = Field(description="A DNS label, unique", examples=["hq"])
    address: str = Field(
        description="Public IPv4 or IPv6 address", examples=["192.0.2.1"]
    )
    ike_id: str | None = Field(None, description="IKE identity, e.g. @vpn.example.com")
    managed: bool = Field(True, description="Cygnet manages it (false: external peer)")
    route_based: bool = Field(
        False, description="Use xfrm interfaces (else policy-based)"
    )


class GatewayReplace(GatewayCreate):
    """The body of a PUT: the name comes from the path."""

    name: str | None = Field(None, description="If given, must match the path")


class GatewayUpdate(GatewayBase):
    name: str | None = Field(None, description="A new name renames the gateway")
    address: str | None = None
    ike_id: str | None = None
    managed: bool | None = None
    route_based: bool | None = None


class GatewayRead(BaseModel):
    name: str
    address: str
    ike_id: str | None
    managed: bool
    route_based: bool
