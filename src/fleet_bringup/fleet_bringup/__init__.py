"""Bring-up of the whole fleet graph: the one-process demo (launch files and configs later)."""
