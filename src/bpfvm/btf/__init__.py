"""BTF: the BPF Type Format (``.BTF``, ``.BTF.ext``) and CO-RE relocations."""
