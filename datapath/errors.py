"""What the kernel refused, in words an operator can act on.

:class:`KernelError` keeps the errno, so callers can branch on it, and the
operation and object it failed on.  The hint depends only on those (and on
the kernel's build configuration when that explains the errno), so the same
situation always gets the same words.
"""

from __future__ import annotations

import errno as E
import gzip
import os
import platform
from functools import cache

from .objects import Route, Rule, XfrmInterface, XfrmPolicy, XfrmState

CAP_NET_ADMIN_HINT = (
    "{doing} the kernel's network configuration needs CAP_NET_ADMIN: "
    "run Cygnet's datapath as root or grant it that capability"
)
XFRM_INTERFACE_HINT = (
    "the kernel has no xfrm interfaces (CONFIG_XFRM_INTERFACE): "
    "load the xfrm_interface module"
)
LOST_ACK_HINT = (
    "the kernel's answer was lost (netlink buffer overflow), so whether the "
    "change was made is unknown: read the kernel's state again and retry"
)

# Names as the kernel's sources spell them, where Python's table has an alias.
ERRNO_NAMES = {E.EOPNOTSUPP: "EOPNOTSUPP"}

# AEAD algorithms of ESP and the kernel option and module that provide them.
AEAD_OPTIONS = {
    "rfc4106(gcm(aes))": ("CONFIG_CRYPTO_GCM", "gcm"),
    "rfc4543(gcm(aes))": ("CONFIG_CRYPTO_GCM", "gcm"),
    "rfc4309(ccm(aes))": ("CONFIG_CRYPTO_CCM", "ccm"),
    "rfc7539esp(chacha20,poly1305)": (
        "CONFIG_CRYPTO_CHACHA20POLY1305",
        "chacha20poly1305",
    ),
}


class KernelError(Exception):
    """The kernel refused ``op`` ("add", "update", "remove") on ``obj``.

    ``errno`` is the kernel's error number, ``hint`` a sentence saying what to
    do, ``detail`` the kernel's own extended-ack text when it gave one.
    """

    def __init__(
        self, errno: int, op: str, obj, hint: str | None = None, detail: str = ""
    ) -> None:
        self.errno = errno
        self.op = op
        self.obj = obj
        self.detail = detail
        self.hint = hint or hint_for(errno, op, obj)
        super().__init__(errno, op, obj, self.hint, detail)

    def __str__(self) -> str:
        name = ERRNO_NAMES.get(self.errno) or E.errorcode.get(
            self.errno, str(self.errno)
        )
        said = f": {self.detail}" if self.detail else ""
        return f"{self.op} {self.obj}: {self.hint} ({name}{said})"


class NamespaceError(Exception):
    """A network namespace named by the caller does not exist."""

    def __init__(self, netns: str) -> None:
        self.netns = netns
        super().__init__(
            f"network namespace {netns!r} does not exist: create it with "
            f"'ip netns add {netns}' or name one that 'ip netns list' shows"
        )


def is_gone(errno: int, op: str) -> bool:
    """Whether ``errno`` on a removal means the object was already gone.

    Removing is idempotent: the policy (ENOENT), SA (ESRCH), route (ESRCH),
    rule (ENOENT) or interface (ENODEV) Cygnet wanted gone is gone.
    """
    return op == "remove" and errno in (E.ENOENT, E.ESRCH, E.ENODEV)


def hint_for(errno: int, op: str, obj) -> str:
    """The sentence for ``errno`` from ``op`` on ``obj``."""
    if errno in (E.EPERM, E.EACCES):
        return CAP_NET_ADMIN_HINT.format(
            doing="reading" if op == "list" else "changing"
        )
    if errno == E.ENOBUFS:
        return LOST_ACK_HINT
    if isinstance(obj, XfrmState) and op != "remove":
        if errno == E.EPROTONOSUPPORT:
            return esp_hint(obj.dst.version)
        if errno == E.ENOSYS:
            return missing_aead_hint(obj)
        if errno == E.ESRCH:
            return "the SA is not installed, so it cannot be updated: add it instead"
    if isinstance(obj, XfrmInterface) and op != "remove" and errno == E.EOPNOTSUPP:
        return XFRM_INTERFACE_HINT
    if errno == E.EEXIST:
        return exists_hint(obj)
    if isinstance(obj, Route) and errno == E.ENODEV:
        return f"there is no interface {obj.dev}: create it before routing through it"
    if isinstance(obj, Route) and errno == E.ENETUNREACH:
        return (
            f"the next hop {obj.via} is not on a network {obj.dev} reaches: "
            "give an address of that link's subnet"
        )
    if errno == E.EINVAL:
        return "the kernel found the request invalid: check the object's fields"
    return f"the kernel refused it: {os.strerror(errno)}"


def exists_hint(obj) -> str:
    if isinstance(obj, XfrmPolicy):
        return (
            "a policy with this selector, direction and if_id is already "
            "installed: update it instead of adding it"
        )
    if isinstance(obj, XfrmState):
        return (
            "an SA with this destination, SPI and protocol is already "
            "installed: remove it first or use a new SPI"
        )
    if isinstance(obj, XfrmInterface):
        return (
            f"an interface named {obj.name} already exists: "
            "remove it or pick another name"
        )
    if isinstance(obj, Rule):
        return "the same rule is already installed"
    return "it already exists in the kernel"


def esp_hint(version: int = 4) -> str:
    option = "CONFIG_INET_ESP" if version == 4 else "CONFIG_INET6_ESP"
    return f"the kernel has no ESP support ({option}): load the esp4/esp6 modules"


def missing_aead_hint(state: XfrmState) -> str:
    """ENOSYS on an SA: the kernel found no AEAD algorithm of that name.

    The kernel looks the algorithm up before it looks for ESP itself, so a
    kernel lacking both answers ENOSYS.  Its build configuration, when
    readable, tells which of the two is missing.
    """
    name = state.aead.name
    option, module = AEAD_OPTIONS.get(name, (None, None))
    esp_option = "CONFIG_INET_ESP" if state.dst.version == 4 else "CONFIG_INET6_ESP"
    esp = kernel_option(esp_option)
    parts = []
    if esp == "n":
        parts.append(esp_hint(state.dst.version))
    if option is None:
        parts.append(
            f"the kernel does not know the AEAD algorithm {name}: use rfc4106(gcm(aes))"
        )
    elif kernel_option(option) in ("n", None) or not parts:
        parts.append(
            f"the kernel has no {name} algorithm ({option}): load the {module} module"
        )
    if esp is None:
        parts.append(
            f"ESP itself may be missing too ({esp_option}): load the esp4/esp6 modules"
        )
    return "; ".join(parts)


@cache
def _kernel_config() -> dict[str, str] | None:
    """The running kernel's build options, or None if they are not readable."""
    candidates = ["/proc/config.gz", f"/boot/config-{platform.release()}"]
    for path in candidates:
        try:
            opener = gzip.open if path.endswith(".gz") else open
            with opener(path, "rt") as config:
                text = config.read()
        except OSError:
            continue
        options = {}
        for line in text.splitlines():
            if line.startswith("CONFIG_"):
                name, _, value = line.partition("=")
                options[name] = value
            elif line.startswith("# CONFIG_") and line.endswith(" is not set"):
                options[line[2 : -len(" is not set")]] = "n"
        return options
    return None


def kernel_option(name: str) -> str | None:
    """``"y"``, ``"m"`` or ``"n"`` for a kernel build option; None if unknown."""
    config = _kernel_config()
    if config is None:
        return None
    return config.get(name, "n")
