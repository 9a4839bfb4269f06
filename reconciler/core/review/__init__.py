"""The access review (``pisync review``): its values, how they are built from the live and
desired state, and its formats (JSON, CSV, Markdown, HTML). The top layer of the core.
"""
