"""The inbox endpoint partners deliver to. It needs no session: the envelope's signature is the authentication."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from opennrm.cooperation import messaging


@csrf_exempt
@require_POST
def inbox(request: HttpRequest) -> JsonResponse:
    status, answer = messaging.receive(request.body, remote_addr=request.META.get("REMOTE_ADDR", ""))
    return JsonResponse(answer, status=status)
