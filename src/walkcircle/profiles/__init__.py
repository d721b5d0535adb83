"""The life-circle standards that ship with walkcircle, as TOML files (read by `walkcircle.profile`)."""
