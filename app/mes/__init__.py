"""Hand-off to the MES: deliver the journal's per-unit records to a drop folder and/or an HTTP endpoint.

The records are queued by the journal itself (:mod:`certline.app.batch.mes_record`); this package only
delivers them: :mod:`certline.app.mes.config` (where to), :mod:`certline.app.mes.drop_folder` (atomic files),
:mod:`certline.app.mes.http_post` (POST with an overall deadline and an idempotency key) and
:mod:`certline.app.mes.delivery` (the worker that drains the outbox with retries and backoff).
See ``docs/mes.md``.
"""
