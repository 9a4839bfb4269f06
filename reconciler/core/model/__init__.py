"""Values every part of the core shares: the desired and live state and their parts, the
configuration, the privileges and user types, issues, digests, and small helpers. Imports
nothing else of pisync.
"""
