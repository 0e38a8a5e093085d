"""Helper implementations, grouped by what they touch, and the default registry."""

from __future__ import annotations

from collections.abc import Mapping

from bpfvm.runtime.helpers.basic import BASIC_HELPERS
from bpfvm.runtime.helpers.maps import MAP_HELPERS
from bpfvm.runtime.helpers.misc import MISC_HELPERS
from bpfvm.runtime.helpers.packet import PACKET_HELPERS
from bpfvm.runtime.helpers.redirect import REDIRECT_HELPERS
from bpfvm.runtime.helpers.registry import (
    HelperCall,
    HelperFn,
    HelperRegistry,
    describe_missing,
)

__all__ = [
    "ALL_HELPERS",
    "BASIC_HELPERS",
    "HelperCall",
    "HelperFn",
    "HelperRegistry",
    "default_registry",
    "describe_missing",
]

ALL_HELPERS: Mapping[str, HelperFn] = {
    **BASIC_HELPERS,
    **MAP_HELPERS,
    **MISC_HELPERS,
    **PACKET_HELPERS,
    **REDIRECT_HELPERS,
}


def default_registry() -> HelperRegistry:
    """A registry holding every helper bpfvm implements."""
    return HelperRegistry(ALL_HELPERS)
