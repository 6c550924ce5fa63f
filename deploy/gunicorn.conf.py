"""gunicorn settings for the petition system (`gunicorn -c deploy/gunicorn.conf.py webapp.wsgi:app`).

Every value can be overridden from the environment (see docs/deployment.md). The web workers never run
the timer ticker: one `petitions scheduler` process does (deploy/systemd/petitions-scheduler.service).
The scheduler claims each due timer in the database (`FOR UPDATE SKIP LOCKED` on the timer row, then on the
instance), so even an accidental second ticker never fires a timer twice; it would only waste work.
"""
import multiprocessing
import os

bind = os.environ.get("PETITIONS_BIND", "127.0.0.1:8000")
# Sync-style threads per worker: a request spends most of its time waiting on PostgreSQL.
worker_class = os.environ.get("PETITIONS_WORKER_CLASS", "gthread")
workers = int(os.environ.get("PETITIONS_WORKERS", multiprocessing.cpu_count() * 2 + 1))
threads = int(os.environ.get("PETITIONS_THREADS", "4"))
# Never preload: the app must be built in each worker (database pools and threads do not survive fork()).
preload_app = False
timeout = int(os.environ.get("PETITIONS_WORKER_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
# Recycle workers now and then so memory never creeps (jitter avoids all of them restarting at once). Rarely: a
# new worker imports the app again and starts with cold caches (specs, compiled statements, prepared statements),
# about 2 s of CPU; at 2,000 requests each of 5 workers restarted about once a minute under 150 requests/s, which
# cost figure 2 CPU and its p95 (docs/performance.md). A worker stays near 130 MB (figure 6), so 50,000 is safe.
max_requests = int(os.environ.get("PETITIONS_MAX_REQUESTS", "50000"))
max_requests_jitter = max_requests // 10
# Only the local reverse proxy may set X-Forwarded-Proto (https detection for Secure cookies).
forwarded_allow_ips = os.environ.get("PETITIONS_FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
proxy_allow_ips = forwarded_allow_ips
limit_request_field_size = 8190
# The app writes one access line per request (logger petitions.access, with request id, user, duration);
# gunicorn's own access log stays off unless asked for.
accesslog = os.environ.get("PETITIONS_GUNICORN_ACCESSLOG") or None
errorlog = "-"
loglevel = os.environ.get("PETITIONS_LOG_LEVEL", "info").lower()
raw_env = ["PETITIONS_RUN_SCHEDULER=0"]
proc_name = "petitions-web"

if os.environ.get("PETITIONS_LOG_FORMAT", "").lower() == "json":
    # The root logger too: the app's records (webapp/logs.py adds request id, user, path to this handler).
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "webapp.logs.JsonFormatter"}},
        "filters": {"request": {"()": "webapp.logs.RequestContextFilter"}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["request"],
                                 "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["console"], "level": loglevel.upper()},
        "loggers": {
            "gunicorn.error": {"handlers": ["console"], "level": loglevel.upper(), "propagate": False},
            # gunicorn's access line repeats the app's petitions.access line (which has the request id).
            "gunicorn.access": {"handlers": ["console"], "propagate": False,
                                "level": "INFO" if accesslog else "WARNING"},
            "spiff": {"level": "WARNING"},
        },
    }


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def on_starting(server):  # noqa: ARG001 - gunicorn hook signature
    """Prepare the shared Prometheus directory: drop files of processes that are gone (keep the scheduler's)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return
    os.makedirs(directory, exist_ok=True)
    for name in os.listdir(directory):
        pid = name.rsplit("_", 1)[-1].removesuffix(".db")
        if name.endswith(".db") and pid.isdigit() and not _alive(int(pid)):
            os.unlink(os.path.join(directory, name))


def child_exit(server, worker):  # noqa: ARG001 - gunicorn hook signature
    """Tell prometheus_client that a worker is gone (its live gauges are dropped)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
