"""Run-time services shared by the engines: native memory regions and helper functions."""
