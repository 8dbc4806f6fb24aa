"""The desk: alerts in Redis, desk actions, police dispatch, the API and the live console.

Importing this package does nothing: no Redis connection, no server. The pieces:

- :mod:`.store` keeps alerts in Redis, idempotently by `alert_id` (highest revision wins),
  with a stream for the live feed; :mod:`.ranking` orders the desk's queue.
- :mod:`.actions` applies desk actions (ack, dismiss, escalate, warned) with who and when.
- :mod:`.dispatcher` turns urgent alerts into tasks for the nearest free unit, on Redis;
  :mod:`.ladder` runs the escalation ladder (SMS → phone call → door visit).
- :mod:`.service` wires them into one :class:`~.service.Desk`; :mod:`.sink` feeds it
  engine output and buffers while Redis is away.
- :mod:`.outcomes` and :mod:`.sla` turn what happened into labels and SLA figures.
- :mod:`.api` (aiohttp) serves the API, the console (:mod:`.console`) and `/metrics`.
"""
