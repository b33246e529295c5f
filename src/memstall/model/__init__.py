"""Frozen dataclasses that hold what the kernel reported, in the kernel's own names.

No I/O and no logic beyond small properties. Units are in field names (`_pages`,
`_kib`, `_us`...); dimensionless counts have no suffix. Dataclasses are `frozen=True`
but not `slots=True`: slots need Python 3.10 and the core must run on 3.9.
"""
