"""`manage.py benchmark`: the send endpoint against a bare DRF endpoint (SPEC §15).

`seed` writes the data (its own account), `statements` counts a send's statements
in-process, `server` runs gunicorn, `wrk` drives it with `send.lua`, `report` prints
the runs and checks the targets; the command puts them in order.
"""
