"""The desired state: each file checked against its schema and rules and built into values,
the cross-file rules, plan-time references, the cache codec, and YAML made from live
state (``import``).
"""
