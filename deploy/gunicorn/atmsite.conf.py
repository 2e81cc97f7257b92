"""gunicorn's settings for every atmsite app server: `make run`, `make serve` (atmsite.runall) and
deploy/systemd/atmsite-app@.service all start gunicorn with `--config` pointing here; the address,
the logs and the control socket are given on their command lines.

- Workers: GUNICORN_WORKERS processes (default 2, one per core of a 2-core machine) of
  GUNICORN_THREADS threads each (default 4). A PIN check holds a thread for ~20 ms of argon2
  (which runs outside Python's lock), and every page waits on PostgreSQL a few times: with
  threads, the other requests of that process go on meanwhile instead of queueing behind it.
  GUNICORN_THREADS=1 gives gunicorn's plain sync workers. Measured beside other work on the
  2-core machine (benchmarks/atm_load.py, two stacks side by side): 4 workers x 2 threads, 2 x 2,
  and one PIN check at a time per process (ATM_PIN_VERIFY_CONCURRENCY=1) were no better than this.
- Keep-alive: nginx keeps its connections to the app servers open (deploy/nginx/atmsite.conf.in,
  `keepalive_timeout 60s` there); gunicorn keeps an idle one for 75 s, longer, so nginx never
  sends a request on a connection gunicorn is closing. Never expose these workers to clients:
  nginx reads each request whole before it reaches them.
"""

import os

workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
keepalive = 75
graceful_timeout = 5
