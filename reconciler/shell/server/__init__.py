"""Talking to the server: HTTP (:mod:`.http`), the transport that signs in, retries and limits
(:mod:`.transport`), a connection opened from the settings (:mod:`.connect`), reading the live
state (:mod:`.live`) and executing a plan (:mod:`.executor`). What a request, a path or a
status means is asked of :mod:`reconciler.pi`.
"""
