"""Rule families: each module registers its rules into the catalogue at import."""
