"""Desired against live: the plan's changes, pruning, expiry, the plan's scope, and which
reads a plan needs.
"""
