"""The plan as a value: its changes, fields and findings, the order they apply in, and how
values are compared and shown. Imports only ``model``.
"""
