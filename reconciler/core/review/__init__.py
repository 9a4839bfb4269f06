"""The access review (``pisync review``) and what follows it (``pisync revoke``): its values,
how they are built from the live and desired state and git, its formats (JSON, CSV, Markdown,
HTML, the worksheet), the completeness manifest, and the revocations as YAML edits. The top
layer of the core.
"""
