"""A faithful stand-in for the upstream (CONTRACT.md): the Anyfast gateway and BytePlus direct.

A standalone process (``python -m upstream.simulator``), deliberately free of Django: stdlib
``http.server`` for raw control of the socket, SQLite so state survives a restart. Both adapters
share one implementation of the actions (``actions``), each translating its own request,
authentication and error shapes (``anyfast``, ``byteplus``).

Modules: ``server`` (HTTP, routing, faults, request log), ``anyfast`` and ``byteplus``
(adapters), ``signing`` (BytePlus HMAC-SHA256 verification), ``actions`` (dispatch),
``verification`` (sessions), ``library`` (groups, assets, face check), ``media`` (limits),
``ingest`` (URL / Base64 / multipart sources), ``h5`` (the phone page), ``control`` (test API),
``switches`` (the contract's open questions), ``faults`` (fault injection, rate limits),
``store`` (SQLite state, simulated clock).

Face check: deterministic and steered by the control API, never a recognizer. A real
recognizer needs face-embedding model weights and photos of the verified person that we can't
ship; tests instead arm ``FaceMismatch`` per group (see ``library``).
"""
