"""Per-request context (request id, acting user, active agency) for the audit log and the logs."""

from __future__ import annotations

from contextvars import ContextVar

request_id_var: ContextVar[str] = ContextVar("opennrm_request_id", default="")
# Public id of the agency the user is acting for in this request ("" when none); read by the audit log.
agency_var: ContextVar[str] = ContextVar("opennrm_agency", default="")
