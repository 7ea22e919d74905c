"""The three narrow ports a platform fills in: storage (the PAL), crypto and entropy."""
