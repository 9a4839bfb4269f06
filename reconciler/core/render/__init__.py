"""Plans, issues and doctor checks as text, Markdown and JSON, and the one escaping module
(:mod:`reconciler.core.render.markup`) every format uses. Imports ``plans`` and ``model``.
"""
