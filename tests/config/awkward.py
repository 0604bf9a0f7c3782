"""Awkward but valid resource_config.toml files: the layouts people really write.

Kept as bytes here (not files) so no checkout setting can touch their line endings. Each
sets ``gpu.memory_fraction`` somewhere, so one edit can be checked in every layout.
"""

from __future__ import annotations

AWKWARD: dict[str, bytes] = {
    "crlf": (
        b"# Resources, written on Windows\r\n"
        b"schema_version = 1\r\n"
        b"\r\n"
        b"[gpu]\r\n"
        b"# share of GPU memory\r\n"
        b"memory_fraction = 0.9\r\n"
        b"allow_growth = true\r\n"
        b"\r\n"
        b"[monitor]\r\n"
        b"check_interval = 1.0\r\n"
    ),
    "tabs_and_trailing_comments": (
        b"schema_version = 1\n"
        b"[gpu]\n"
        b"\tmemory_fraction\t=\t0.9\t# keep some for the desktop\n"
        b"\tallow_growth = true   #   grow as needed\n"
        b"\n\n\n"
        b"[monitor]\n"
        b"    check_interval = 2.5 # seconds\n"
    ),
    "unicode": (
        "# Ressourcen — Grafikkarte 🚀\n"
        "schema_version = 1\n"
        "[gpu]\n"
        "per_process_memory = \"12GB\" # ≈ 11 GiB\n"
        "memory_fraction = 0.9\n"
        "[monitor]\n"
        "\"gpu_temp_threshold\" = 80.0 # °C\n"
        "note = \"ünknown kéy, kept\"\n"
    ).encode(),
    "inline_tables": (
        b"schema_version = 1\n"
        b"gpu = { memory_fraction = 0.9, allow_growth = false }  # one line\n"
        b"monitor = {check_interval=1.0,cpu_threshold=0.75}\n"
    ),
    "dotted_keys": (
        b"# dotted keys instead of tables\n"
        b"schema_version = 1\n"
        b"gpu.memory_fraction = 0.9\n"
        b"gpu.enable_tf32 = false\n"
        b"monitor.memory_threshold = 0.85\n"
    ),
    "bom_no_final_newline": (
        b"\xef\xbb\xbfschema_version = 1\n"
        b"[gpu]\n"
        b"cuda_devices = [\n"
        b"    0,  # first card\n"
        b"    1,\n"
        b"]\n"
        b"memory_fraction = 0.9"
    ),
    "crlf_multiline_and_split_table": (
        b"schema_version = 1\r\n"
        b"[gpu]\r\n"
        b"memory_fraction = 0.9\r\n"
        b"[monitor]\r\n"
        b"check_interval = 1.0\r\n"
        b"[gpu.extra]\r\n"
        b"text = '''\r\n"
        b"two\r\n"
        b"lines'''\r\n"
    ),
}
