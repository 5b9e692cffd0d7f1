from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SubnetCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        description="Unique; must not look like an address", examples=["hq-lan"]
    )
    cidr: str = Field(
        description="IPv4 or IPv6 CIDR, host bits clear", examples=["10.1.0.0/24"]
    )
    gateway: str = Field(
        description="Name of the gateway it lies behind", examples=["hq"]
    )


class SubnetReplace(SubnetCreate):
    """The body of a PUT: the name comes from the path."""

    name: str | None = Field(None, description="If given, must match the path")


class SubnetUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, description="A new name renames the subnet")
    cidr: str | None = None
    gateway: str | None = None


class SubnetRead(BaseModel):
    name: str
    cidr: str
    gateway: str
