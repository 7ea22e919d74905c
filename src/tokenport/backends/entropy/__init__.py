"""Entropy port backends: raw sources, SP 800-90B health tests and SP 800-90A DRBGs."""
