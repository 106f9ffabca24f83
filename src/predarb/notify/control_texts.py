"""Texts of the runtime settings (``/settings``, ``/limits``, ``predarb settings``):
pure functions, Telegram HTML with every dynamic value escaped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape

from predarb.runtime_settings import NEVER_MUTED, Limit, RuntimeSettings


def limits_text(limits: Sequence[Limit]) -> str:
    lines = ["<b>Limits</b> (/set NAME VALUE changes one; VALUE default undoes it)"]
    for limit in limits:
        mark = " <b>(set)</b>" if limit.source == "set" else ""
        lines.append(f"{escape(limit.name)} = {escape(limit.value)}{mark}")
    return "\n".join(lines)


def settings_text(runtime: RuntimeSettings, blocks: Mapping[str, datetime]) -> str:
    changed = [limit for limit in runtime.limits() if limit.source == "set"]
    lines = ["<b>Settings</b> (kept across restarts)"]
    if changed:
        lines.append(
            "limits set at run time: "
            + ", ".join(f"{escape(c.name)} = {escape(c.value)}" for c in changed)
        )
    else:
        lines.append("limits: as configured (/limits shows them)")
    listed = ", ".join(sorted(runtime.blacklist)) or "empty"
    lines.append(f"blacklist: {escape(listed)}")
    muted = ", ".join(sorted(k.value for k in runtime.muted)) or "none"
    never = ", ".join(sorted(k.value for k in NEVER_MUTED))
    lines.append(f"muted alerts: {escape(muted)} (never muted: {escape(never)})")
    if blocks:
        lines.append(
            "blocked pairs: "
            + ", ".join(
                f"{escape(p)} until {until:%m-%d %H:%M} UTC" for p, until in sorted(blocks.items())
            )
            + " (/unblock PAIR)"
        )
    else:
        lines.append("blocked pairs: none")
    return "\n".join(lines)
