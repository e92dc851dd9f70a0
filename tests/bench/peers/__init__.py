"""``make bench-peers``: the same job on borderx and on a peer, timed side by side (issue #14).

The job: share ``BORDERX_PEERS_N`` (default 10,000) violation flags with one partner until
the partner holds them all.

- **borderx**: two real gateways (``borderx serve``, AU-ABF and NZ-CS of a dev PKI made in
  a temporary folder, default settings, SQLite stores); NZ-CS follows AU-ABF. Once NZ-CS's
  ``GetStatus`` shows the link up, a service client publishes the flags at AU-ABF in
  batches of 100 drafts through ``Publish`` (each signed and chained by the gateway), and
  a thread polls NZ-CS's ``GetStatus`` every 20 ms until AU-ABF's head there reaches N.
  Repeated ``BORDERX_PEERS_ROUNDS`` times (default 3) on fresh stores; the range is printed.
- **medallion 3.0.0** (the OASIS TAXII 2.1 reference server; memory backend, basic auth,
  ``max_page_size`` 1,000, config and user written to the temporary folder) with
  **taxii2-client 2.3.0**: a consumer process starts polling the collection first (every
  pass pages through Get Objects and keeps the ids it has not seen), then a producer
  process posts the same flags as STIX 2.1 ``indicator`` objects (the flag's fields as
  ``x_borderx_*`` properties) in envelopes of 100. Timed from the first post until the
  consumer holds all N; the posting time and the time to the consumer's first non-empty
  page are printed too. ``BORDERX_PEERS_TIMEOUT`` (default 3,600 s) bounds the wait; past
  it the figure is a lower bound and says so.

Both sides also report the CPU time their servers spent on the job (both gateways'
user + system time; medallion's), read from ``/proc``: on a busy machine wall time says
as much about the neighbours as about the servers, CPU time much less.

The peer is never a project dependency: the target installs it on each run, when absent,
into its own venv (``BORDERX_PEERS_VENV``, default ``.venv-peers/``) from the hash-locked
``tests/bench/peers/requirements.txt`` (``requirements.in`` pins the two packages; lock it
again with ``uv pip compile --generate-hashes --universal --python-version 3.11
tests/bench/peers/requirements.in -o tests/bench/peers/requirements.txt``). If it cannot be
installed, the target says why, runs the borderx side alone and exits 0. The peer's code
runs only in that venv (``taxii_job.py`` imports nothing of borderx).

medallion's memory backend is slow at scale (its Get Objects filter compares every object
with every other: the issue measured 752 s for 10,000); ``BORDERX_PEERS_N=1000`` is a quick
try. Not part of ``make bench``.
"""
