"""The worker caps glibc's malloc arenas before it starts a thread, as configured."""

from __future__ import annotations

import subprocess
import sys

import pytest

PROBE = """
import ctypes, threading
from rightsflow.memory import limit_malloc_arenas
print(limit_malloc_arenas())
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
# Many threads allocating at once, outside the GIL (ctypes lets go of it, as C libraries do):
# without a cap glibc gives them arenas of their own; with it they share.
def churn():
    for _ in range(20000):
        libc.free(libc.malloc(70000))
threads = [threading.Thread(target=churn) for _ in range(12)]
[t.start() for t in threads]; [t.join() for t in threads]
libc.fmemopen.restype = ctypes.c_void_p
libc.fmemopen.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_char_p]
libc.malloc_info.argtypes = [ctypes.c_int, ctypes.c_void_p]
libc.fclose.argtypes = [ctypes.c_void_p]
buf = ctypes.create_string_buffer(1 << 20)
stream = libc.fmemopen(buf, len(buf), b"w")
libc.malloc_info(0, stream)
libc.fclose(stream)
print(buf.value.decode().count("<heap nr="))  # glibc's report: one <heap> per arena
"""


def _probe(env: dict[str, str]) -> tuple[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
def test_the_arena_cap_holds_and_can_be_turned_off(monkeypatch):
    import os

    base = {k: v for k, v in os.environ.items() if k not in ("MALLOC_ARENA_MAX", "RIGHTSFLOW_MALLOC_ARENAS")}
    capped, arenas = _probe(base)
    assert capped == "2" and arenas <= 2
    left, glibc_arenas = _probe({**base, "RIGHTSFLOW_MALLOC_ARENAS": "0"})
    assert left == "None" and glibc_arenas > 2  # twelve threads at once made arenas of their own
    assert _probe({**base, "MALLOC_ARENA_MAX": "3"})[0] == "None"  # glibc's own setting wins


def test_a_cap_that_is_not_a_number_is_refused(monkeypatch):
    from rightsflow.memory import limit_malloc_arenas

    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.setenv("RIGHTSFLOW_MALLOC_ARENAS", "two")
    with pytest.raises(SystemExit, match="RIGHTSFLOW_MALLOC_ARENAS must be a whole number"):
        limit_malloc_arenas()
