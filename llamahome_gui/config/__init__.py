"""Config layer: schema, comment-preserving TOML store, overrides. No Qt, no torch."""
