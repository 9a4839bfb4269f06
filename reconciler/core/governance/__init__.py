"""Who may hold what: effective access, the ``policies:`` rules and the safety guards.
Imports ``plans`` and ``model``.
"""
