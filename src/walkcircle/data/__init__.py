"""Data files shipped with walkcircle (see README.md here for provenance)."""
