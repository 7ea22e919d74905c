"""Storage port backends (the PAL, DESIGN.md "The storage port"): sqlite, files, flash, memory."""
