"""Talking to the repository: the desired-state files read and validated
(:mod:`.desired_files`, with their cache, :mod:`.cache`), the desired state a command needs
valid (:mod:`.desired_state`), git (:mod:`.git`), the files changed since a ref
(:mod:`.changed_files`) and each entry's last commit (:mod:`.provenance`).
"""
