"""``schema_version`` upgrades: one function per step, applied in order on load; then the
retired keys are taken out.

A step edits the user's tomlkit document in place (renaming a key keeps its value, its
comment and its line), so a migrated file written back differs only where it must.
Retiring a key needs no new version: deleting a key the schema no longer has is the same
step from any version, and repeating it changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import tomlkit
from tomlkit.items import Table

from llamahome_gui.config.errors import ConfigError
from llamahome_gui.config.schema import SCHEMA_VERSION

# Key names used before schema_version existed (version 0), by component.
V0_RENAMES: dict[str, dict[str, str]] = {
    "model": {
        "resources.max_seq_length": "resources.max_sequence_length",
        "resources.min_gpu_memory_gb": "resources.min_gpu_memory",
    },
    "training": {
        "training.batch_size": "training.per_device_train_batch_size",
        "training.epochs": "training.num_train_epochs",
        "training.num_epochs": "training.num_train_epochs",
        "training.lr_scheduler_type": "training.lr_scheduler",
        "training.gradient_accumulation": "training.gradient_accumulation_steps",
        "training.max_length": "training.max_seq_length",
        "lora.rank": "lora.r",
        "lora.alpha": "lora.lora_alpha",
        "lora.dropout": "lora.lora_dropout",
    },
    "inference": {
        "generation.max_tokens": "generation.max_new_tokens",
    },
    "resource": {
        "gpu.gpu_memory_fraction": "gpu.memory_fraction",
        "monitor.interval": "monitor.check_interval",
    },
    "monitoring": {
        "alerts.backend": "alerts.notification_backend",
    },
}


# Keys that were removed because nothing could act on them, with the reason shown once.
RETIRED: dict[str, dict[str, str]] = {
    "monitoring": {
        "logging.save_interval": "events and metrics are written and flushed at every step",
        "visualization.plot_metrics": "the window always draws its live graphs",
    },
}


@dataclass
class Migration:
    """What happened to one document."""

    from_version: int
    to_version: int
    renames: dict[str, str] = field(default_factory=dict)  # new dotted key -> old one
    notes: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)        # dotted keys taken out

    @property
    def changed(self) -> bool:
        return self.from_version != self.to_version or bool(self.retired)


def migrate_v0_to_v1(component: str, doc: tomlkit.TOMLDocument, result: Migration) -> None:
    """Files from before ``schema_version``: rename the old key names, add the version."""
    for old, new in V0_RENAMES.get(component, {}).items():
        if _rename(doc, old.split("."), new.split(".")[-1]):
            result.renames[new] = old
            result.notes.append(f"{old} renamed to {new}")
        elif _has(doc, old.split(".")):
            result.notes.append(f"{old} kept as is: {new} is already set")
    if "schema_version" in doc:
        doc["schema_version"] = 1
    else:
        doc.add("schema_version", 1)


MIGRATIONS: dict[int, Callable[[str, tomlkit.TOMLDocument, Migration], None]] = {
    0: migrate_v0_to_v1,
}


def file_version(doc: Any, where: str = "") -> int:
    """The file's ``schema_version`` (0 when absent)."""
    version = doc.get("schema_version", 0) if hasattr(doc, "get") else 0
    version = version.unwrap() if hasattr(version, "unwrap") else version
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise ConfigError(f"{where}schema_version = {version!r}: must be a whole number >= 0")
    return version


def migrate(component: str, doc: tomlkit.TOMLDocument, where: str = "",
            target: int = SCHEMA_VERSION) -> Migration:
    """Bring ``doc`` (in place) up to ``target``."""
    version = file_version(doc, where)
    if version > target:
        raise ConfigError(f"{where}schema_version = {version}: this file was written by a newer "
                          f"LlamaHome GUI (this one reads up to {target}); update the app")
    result = Migration(version, version)
    while result.to_version < target:
        MIGRATIONS[result.to_version](component, doc, result)
        result.to_version += 1
    retire_keys(component, doc, result)
    return result


def retire_keys(component: str, doc: Any, result: Migration) -> None:
    """Take the retired keys of ``component`` out of ``doc`` (their lines go on save)."""
    for dotted, why in RETIRED.get(component, {}).items():
        *parents, leaf = dotted.split(".")
        node = doc
        for part in parents:
            node = node.get(part) if isinstance(node, Mapping) else None
        if isinstance(node, Mapping) and leaf in node:
            del node[leaf]
            result.retired.append(dotted)
            result.notes.append(f"{dotted} removed: {why}")


def _has(doc: Any, parts: list[str]) -> bool:
    node = doc
    for part in parts:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def _rename(doc: Any, parts: list[str], new_key: str) -> bool:
    """Rename the key at ``parts`` in place (same line, same comment); False if absent or
    the new name is taken."""
    node = doc
    for part in parts[:-1]:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    old_key = parts[-1]
    if not isinstance(node, Mapping) or old_key not in node or new_key in node:
        return False
    container = node.value if isinstance(node, Table) else node
    replace = getattr(container, "_replace", None)
    if replace is not None:
        replace(old_key, new_key, container.item(old_key))
    else:  # a table split across the file: move the value (its line moves to the end)
        value = node[old_key]
        del node[old_key]
        node[new_key] = value
    return True
