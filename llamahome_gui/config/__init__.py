"""Config layer: schema, comment-preserving TOML store, overrides. No Qt, no torch.

- ``schema``: the pydantic models (defaults, limits, help text) -- the one source of truth.
- ``manager.ConfigManager``: load / update / preview_diff / merge / reset / presets / env info.
- ``store``: tomlkit reading and writing that keeps the user's bytes; atomic save + ``.bak``.
- ``validation``, ``errors``: file:line messages naming key path, bad value and rule.
- ``env``: ``LLAMAHOME_<SECTION>_<KEY>`` and ``LLAMAHOME__<COMPONENT>__<SECTION>__<KEY>``.
- ``migrations``: ``schema_version`` steps; ``schema_files``: schema TOML files and dynamic
  models; ``presets``: overlay folders; ``importer``: ``llamahome config import``.
"""
