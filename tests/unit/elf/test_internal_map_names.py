"""Global data maps get the kernel name libbpf's ``internal_map_name`` gives them."""

from __future__ import annotations

from pathlib import Path

import pytest

from bpfvm.elf.loader import internal_map, load_object, object_name
from bpfvm.program.model import MapSpec
from bpfvm.program.uapi import MapType

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "c"


@pytest.mark.parametrize(
    ("source", "section", "expected"),
    [
        ("my_object_name.bpf.o", ".rodata", "my_objec.rodata"),
        ("tc_rewrite.bpf.o", ".bss", "tc_rewri.bss"),
        ("dir/x.o", ".data", "x.data"),
        ("a-b.o", ".kconfig", "a_b.kconfig"),  # sanitised as the kernel requires
        ("obj.o", ".rodata.str1.1", ".rodata.str1.1"),  # a second dot: no prefix
        ("obj.o", ".rodata.abracadabra", ".rodata.abracad"),  # 15 characters at most
        ("averyveryverylongname.o", ".rodata", "averyver.rodata"),
    ],
)
def test_internal_map_name(source: str, section: str, expected: str) -> None:
    spec = MapSpec(section, MapType.ARRAY, 4, 8, 1)
    assert internal_map(spec, object_name(source)).kernel_name == expected


def test_object_maps_keep_their_section_names_for_users() -> None:
    path = EXAMPLES / "global_config.bpf.o"
    obj = load_object(path.read_bytes(), str(path))
    names = {m.name: m.kernel_name for m in obj.maps}
    assert names[".rodata"] == "global_c.rodata" and names[".bss"] == "global_c.bss"
    assert obj.maps[obj.map_index(".rodata")].name == ".rodata"
