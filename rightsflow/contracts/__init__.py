"""The contracts between callers, workflows and activities: every workflow's input, output,
update and query type, and every activity's input and result, as keyword-only dataclasses.

Payloads are JSON by field name, so a field keeps its name for as long as any recorded history or
running workflow may carry it; a new field always has a default. These modules import nothing
but the standard library: workflows import them inside Temporal's sandbox without pulling in a
database driver, an S3 client or a cipher.
"""
