"""The program model every front end produces and every later stage consumes."""

from bpfvm.program.model import MapSpec, Program
from bpfvm.program.uapi import AttachType, MapType, ProgType

__all__ = ["AttachType", "MapSpec", "MapType", "ProgType", "Program"]
