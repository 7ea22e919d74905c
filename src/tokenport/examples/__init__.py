"""Runnable examples that ship with the package (``python3 -m tokenport.examples.NAME``)."""
