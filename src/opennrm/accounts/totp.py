"""TOTP (RFC 6238) two-factor authentication with single use of each code."""

from __future__ import annotations

import time

import pyotp
import segno

ISSUER = "OpenNRM"
STEP = 30


def new_secret() -> str:
    return pyotp.random_base32(length=32)


def provisioning_uri(*, secret: str, account: str, issuer: str = ISSUER) -> str:
    return pyotp.TOTP(secret, interval=STEP).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The enrolment QR code as inline SVG markup (generated here: nothing leaves the server)."""
    return segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff")


def matching_step(*, secret: str, code: str, after_step: int, now: float | None = None) -> int | None:
    """The time step the code belongs to (allowing one step of clock drift), if it is later than `after_step`."""
    code = "".join(ch for ch in code if ch.isdigit())
    if len(code) != 6:
        return None
    totp = pyotp.TOTP(secret, interval=STEP)
    current = int((now if now is not None else time.time()) // STEP)
    for step in (current, current - 1, current + 1):
        if step > after_step and pyotp.utils.strings_equal(totp.generate_otp(step), code):
            return step
    return None


def code_for(secret: str, *, now: float | None = None) -> str:
    """The current code (used by tests and the demo; never shown by the web app)."""
    current = int((now if now is not None else time.time()) // STEP)
    return pyotp.TOTP(secret, interval=STEP).generate_otp(current)
