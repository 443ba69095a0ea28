"""Open app sessions, so that STOP (in the app or on its card) can end them and free their memory."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class _Entry:
    doc: weakref.ref
    stop: Callable[[], None]


@dataclass
class AppSessions:
    """Registry of the app sessions open in this server process (one per browser tab)."""

    _entries: dict[tuple[str, str], list[_Entry]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, user: str, app_id: str, doc, stop: Callable[[], None]) -> None:
        with self._lock:
            self._entries.setdefault((user, app_id), []).append(_Entry(weakref.ref(doc), stop))

    def discard(self, user: str, app_id: str, doc) -> None:
        with self._lock:
            entries = self._entries.get((user, app_id), [])
            self._entries[(user, app_id)] = [e for e in entries if e.doc() is not None and e.doc() is not doc]
            if not self._entries[(user, app_id)]:
                del self._entries[(user, app_id)]

    def count(self, user: str | None = None) -> int:
        with self._lock:
            return sum(len([e for e in v if e.doc() is not None]) for (u, _), v in self._entries.items()
                       if user is None or u == user)

    def stop(self, user: str, app_id: str) -> int:
        """End every open session of ``app_id`` for ``user``; returns how many."""
        with self._lock:
            entries = self._entries.pop((user, app_id), [])
        n = 0
        for entry in entries:
            doc = entry.doc()
            if doc is None:
                continue
            doc.add_next_tick_callback(entry.stop)
            n += 1
        return n
