"""HTML to PDF (WeasyPrint), one document at a time in each process.

A worker runs up to sixteen activities at once on threads, and letters, response packs and
disposal certificates are all rendered there. WeasyPrint lays text out through Pango and HarfBuzz
over cffi, which lets go of the GIL around each of the thousands of C calls a document makes and
takes it back afterwards. With several documents rendering at once every one of those takes is a
hand-over between threads, and the hand-overs cost more than the layout: measured on the 2-core
development machine, an acknowledgement letter took 0.094 s of CPU alone, 0.197 s each with eight
rendering at once, and 0.093 s each with the same eight taking turns (wall-clock per letter fell
too, from 0.18 s to 0.10 s). So documents take turns, here, per process; a worker's other
activities (store queries, S3, the register) go on meanwhile, and a second worker process renders
on its own.

WeasyPrint is imported on first use: it loads its system libraries (Pango, HarfBuzz) then, and
tools that never render need not have them.
"""

from __future__ import annotations

import threading

# One document at a time per process (see above). A plain lock, not a queue: a waiting activity
# keeps its thread and goes on heartbeating (activities.heartbeat) while it waits its turn.
_RENDERING = threading.Lock()


def render_pdf(html: str, base_url: str | None = None) -> bytes:
    """The document as PDF bytes; ``base_url`` resolves relative links (images, stylesheets)."""
    from weasyprint import HTML

    with _RENDERING:
        return HTML(string=html, base_url=base_url).write_pdf()  # type: ignore[no-any-return]


def weasyprint_available() -> bool:
    """Whether WeasyPrint and its system libraries load here (certificates fall back to HTML)."""
    try:
        import weasyprint  # noqa: F401
    except Exception:  # noqa: BLE001 - optional dependency (and its system libraries)
        return False
    return True
