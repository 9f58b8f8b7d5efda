"""Structured JSON logs that never carry identifying data.

Only an allow-list of record attributes is written: no request object, no query string, no form data, no
exception arguments. Exceptions are logged by type and location, not by message, because messages can
contain values (a name in an IntegrityError, say).
"""

from __future__ import annotations

import json
import logging
import traceback
from datetime import UTC, datetime

from opennrm.core.context import request_id_var

SAFE_EXTRA = (
    "event",
    "status",
    "method",
    "route",
    "duration_ms",
    "actor",
    "agency",
    "task",
    "count",
    # cross-border messages: ids, codes and reasons only (never a payload)
    "message_id",
    "partner",
    "sender",
    "type",
    "delivered",
    "reason",
    "detail",
)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # Django logs 4xx/5xx after the middleware has reset the context: fall back to the request's own id.
        record.request_id = request_id_var.get() or getattr(
            getattr(record, "request", None), "request_id", ""
        )
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": _safe_message(record),
            "request_id": getattr(record, "request_id", ""),
        }
        for key in SAFE_EXTRA:
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info and record.exc_info[0] is not None:
            exc_type, _exc, tb = record.exc_info
            frames = traceback.extract_tb(tb)
            entry["exception"] = exc_type.__name__
            entry["frames"] = [f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}:{f.name}" for f in frames[-8:]]
        return json.dumps(entry, ensure_ascii=False)


def _safe_message(record: logging.LogRecord) -> str:
    # Django's request logger formats the full path (with query string) into the message: drop the args.
    if record.name.startswith("django.request") or record.name.startswith("django.server"):
        # "%s: %s" % (reason, path): keep the reason phrase, never the path (it may carry a search term).
        args = record.args if isinstance(record.args, tuple) else ()
        return str(args[0]) if args else str(record.msg).split("%", 1)[0].strip()
    try:
        return record.getMessage()
    except (TypeError, ValueError):
        return str(record.msg)
