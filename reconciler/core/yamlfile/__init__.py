"""YAML read with positions (the C parser, no aliases, every value placed at its line and
column), key paths, and YAML written back (``pisync import``). Imports only ``model``.
"""
