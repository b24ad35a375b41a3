"""The throw-away `branch serve` the benchmarks run against, and what the parts do around it.

Service is the base of every part's mixin of Bench (scripts/bench.py), so `self` is the Bench and
its settings are those Bench.__init__ reads: commands (as root or as postgres), SQL over a branch
server's Unix socket or a URL, the HTTP API, starting, restarting and stopping the service on its
loop-mounted Btrfs pool, the pgbench projects the branch, containers and backup parts share, full
copies beside the branches (pg_basebackup), the clean-up and the machine's facts."""

import datetime
import fcntl
import hashlib
import json
import math
import os
import platform
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from .common import (
    BYTES_PER_SCALE, CONTAINER_PREFIX, GIB, REPO, BenchError, fmt_bytes, free_port, free_port_range, is_mounted, log,
    processes_under,
)

LOCK_FILE = "/run/branch-bench.lock"
# Free space left on the host disk beyond the (sparse) pool image's full size.
HOST_MARGIN = 4 * GIB
# Headroom inside the pool beyond 3x the largest data set (WAL, Btrfs metadata, the 1 GB project).
POOL_HEADROOM = 6 * GIB
# The kernel's ports kept out of ephemeral use; `branch serve` adds its branch port range.
RESERVED_PORTS = "/proc/sys/net/ipv4/ip_local_reserved_ports"


class Service:
    """Bench's shared half (see above): a base of every part's mixin of Bench."""

    # ------------------------------------------------------------ shell helpers

    def run(self, args, *, as_postgres=False, check=True, timeout=3600, capture=True, env=None, stream=False):
        command = list(args)
        environment = dict(os.environ)
        for name in ("PGPASSWORD", "PGPASSFILE", "PGSERVICE", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE"):
            environment.pop(name, None)
        environment["PGCONNECT_TIMEOUT"] = "10"
        if as_postgres:
            command = ["runuser", "-u", "postgres", "--"] + command
            environment["HOME"] = pwd.getpwnam("postgres").pw_dir
        if env:
            environment.update(env)
        kwargs = {"cwd": "/", "env": environment, "timeout": timeout, "stdin": subprocess.DEVNULL}
        if stream:
            kwargs.update(stdout=sys.stderr, stderr=sys.stderr)
        elif capture:
            kwargs.update(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        result = subprocess.run(command, **kwargs)
        if check and result.returncode != 0:
            detail = ""
            if capture and not stream:
                detail = ((result.stderr or "") + (result.stdout or "")).strip()[-1500:]
            raise BenchError(f"`{' '.join(shlex.quote(part) for part in args)}` failed ({result.returncode}): {detail}")
        return result

    def environment(self, as_postgres=False):
        environment = dict(os.environ)
        for name in ("PGPASSWORD", "PGPASSFILE", "PGSERVICE", "PGHOST", "PGPORT", "PGUSER", "PGDATABASE"):
            environment.pop(name, None)
        environment["PGCONNECT_TIMEOUT"] = "10"
        if as_postgres:
            environment["HOME"] = pwd.getpwnam("postgres").pw_dir
        return environment

    def pipeline(self, first, second, timeout=4 * 3600):
        """Runs `first | second` (argument lists); raises with both commands' errors on failure."""
        started = time.monotonic()
        with open(os.devnull, "rb") as devnull:
            producer = subprocess.Popen(first, stdin=devnull, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd="/",
                                        env=self.environment())
            consumer = subprocess.Popen(second, stdin=producer.stdout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        cwd="/", env=self.environment())
            producer.stdout.close()  # the consumer holds the pipe now
            try:
                consumer_errors = consumer.communicate(timeout=timeout)[1]
                producer_errors = producer.communicate(timeout=max(1, timeout - (time.monotonic() - started)))[1]
            except subprocess.TimeoutExpired:
                producer.kill()
                consumer.kill()
                producer.wait()
                consumer.wait()
                raise BenchError(f"`{' '.join(first)} | {' '.join(second)}` timed out")
        if producer.returncode != 0 or consumer.returncode != 0:
            raise BenchError(f"`{' '.join(first)} | {' '.join(second)}` failed ({producer.returncode}, {consumer.returncode}): "
                             f"{producer_errors.decode(errors='replace')[-800:]} {consumer_errors.decode(errors='replace')[-800:]}")

    def tool(self, name):
        return os.path.join(self.bindir, name)

    def su_sql(self, port, sql, database="postgres", socket_dir=None, check=True, timeout=600):
        """SQL as the postgres superuser over a Unix socket; unaligned, tuples only."""
        result = self.run(
            [self.tool("psql"), "-h", socket_dir or self.socket_for(port), "-p", str(port), "-U", "postgres", "-d", database,
             "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql],
            as_postgres=True, check=check, timeout=timeout)
        return result.stdout.strip()

    def url_sql(self, url, sql):
        result = self.run([self.tool("psql"), url, "-X", "-A", "-t", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql], timeout=120)
        return result.stdout.strip()

    @property
    def socket_dir(self):
        return os.path.join(self.pool, "run", "pg")

    def socket_for(self, port):
        """A branch server's socket directory: `<pool>/run/pg/<port>` (one per port), or the shared
        `<pool>/run/pg` of older builds."""
        own = os.path.join(self.socket_dir, str(port))
        return own if os.path.isdir(own) else self.socket_dir

    # ------------------------------------------------------------ API

    def api(self, method, path, body=None, expect=(200, 201), timeout=900):
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        started = time.perf_counter()
        try:
            with self.opener.open(request, timeout=timeout) as response:
                raw, status = response.read(), response.status
        except urllib.error.HTTPError as error:
            raw, status = error.read(), error.code
        elapsed = (time.perf_counter() - started) * 1000
        try:
            payload = json.loads(raw) if raw else {}
        except ValueError:
            payload = {"raw": raw[:500].decode(errors="replace")}
        if status not in expect:
            detail = payload.get("error", payload) if isinstance(payload, dict) else payload
            raise BenchError(f"{method} {path} answered {status}: {detail}")
        return payload, elapsed

    def probe_call(self, project):
        """What ApiProbe asks while heavy work runs: the project's branch list, the console's most
        frequent question."""
        return lambda: self.api("GET", f"/api/v1/projects/{project}/branches", timeout=120)

    def healthy(self):
        try:
            with self.opener.open(self.base_url + "/api/v1/health", timeout=2) as response:
                return response.status == 200
        except (OSError, urllib.error.URLError):
            return False

    def create_project(self, name, settings=None):
        body = {"name": name}
        if settings:
            body["settings"] = settings
        created, elapsed = self.api("POST", "/api/v1/projects", body, expect=(201,))
        return created["connection"]["url"], elapsed

    def wait_job(self, job_id, timeout=4 * 3600):
        """Polls a job (backup, restore) every 50 ms until it is no longer running."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job, _ = self.api("GET", f"/api/v1/jobs/{job_id}")
            if job.get("status") != "running":
                return job
            time.sleep(0.05)
        raise BenchError(f"job {job_id} did not finish within {timeout} s")

    # ------------------------------------------------------------ set-up

    def acquire_lock(self):
        self.lock_handle = open(LOCK_FILE, "w")
        try:
            fcntl.flock(self.lock_handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise BenchError(f"another benchmark is running (it holds {LOCK_FILE})")

    def check_prerequisites(self):
        if os.geteuid() != 0:
            raise BenchError("run the benchmarks as root: branch serve mounts a Btrfs image and runs Postgres as postgres")
        if not os.access(self.binary, os.X_OK):
            raise BenchError(f"{self.binary} is missing; build it first (make build CONFIGURATION={self.configuration})")
        for program in ("runuser", "mount", "umount", "losetup", "git"):
            if not shutil.which(program):
                raise BenchError(f"{program} is needed but not on PATH")
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            raise BenchError("there is no postgres OS user (scripts/install-deps.sh installs Postgres)")

    def plan_disk(self):
        """Sizes the pool image for the largest data set and scales down when the disk is too small."""
        parent = os.path.dirname(self.dir)
        stat = os.statvfs(parent)
        available = stat.f_bavail * stat.f_frsize
        self.host_free_start = available

        def pool_bytes(largest):
            return 3 * largest * BYTES_PER_SCALE + POOL_HEADROOM

        # The backup part keeps its backups, pgBackRest's repository and the base backup outside the
        # pool (compressed, pgbench data shrinks about tenfold; half the data size is generous).
        outside = 0.5 if "backup" in self.parts else 0.0

        def host_bytes(largest):
            return pool_bytes(largest) + outside * largest * BYTES_PER_SCALE + HOST_MARGIN

        # The diff part's project (its own pgbench load) must fit too.
        diff_scale = self.diff_scale if "diff" in self.parts else 0
        largest = max(self.scales[-1], diff_scale)
        if host_bytes(largest) > available:
            fitting = int((available - HOST_MARGIN - POOL_HEADROOM) // ((3 + outside) * BYTES_PER_SCALE))
            if fitting < 1:
                raise BenchError(f"only {fmt_bytes(available)} free under {parent}: not enough for any benchmark")
            old = list(self.scales)
            self.scales = sorted({min(scale, fitting) for scale in self.scales})
            if diff_scale > fitting:
                self.diff_scale = diff_scale = fitting
            note = (f"Not enough disk for the requested scales {old}"
                    + (f" and the diff part's scale {largest}" if "diff" in self.parts else "")
                    + f" ({fmt_bytes(available)} free under {parent}, "
                    f"{fmt_bytes(host_bytes(largest))} needed: a pool of {fmt_bytes(pool_bytes(largest))}, the backups "
                    f"and {fmt_bytes(HOST_MARGIN)} margin): scaled down to {self.scales}"
                    + (f" (diff: {self.diff_scale})" if "diff" in self.parts else "") + ".")
            self.notes.append(note)
            log("NOTE: " + note)
        size_gib = math.ceil(pool_bytes(max(self.scales[-1], diff_scale)) / GIB)
        self.pool_size = f"{size_gib}G"
        log(f"{fmt_bytes(available)} free under {parent}; pool image {self.pool_size} (sparse) for scales {self.scales}"
            + (f" and the diff part's scale {self.diff_scale}" if "diff" in self.parts else ""))

    def start_service(self, runtime=None, metrics_interval=None, parts=()):
        """Starts `branch serve` on the pool (created at the first start, reused after). `runtime`
        None means BENCH_RUNTIME (or Branch's default); `metrics_interval` None, Branch's default."""
        first = self.service_config is None
        if first:
            os.makedirs(self.dir, mode=0o711, exist_ok=True)
            os.chmod(self.dir, 0o711)  # postgres must reach the pool and the copies' socket directory
            shutil.copy2(self.binary, self.binary_copy)
            with open(self.binary_copy, "rb") as handle:
                self.binary_sha = hashlib.sha256(handle.read()).hexdigest()[:12]
            self.help_text = subprocess.run(
                [self.binary_copy, "serve", "--help-hidden"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                timeout=60).stdout
            if "--pool" not in self.help_text:  # a build without --help-hidden
                self.help_text = subprocess.run([self.binary_copy, "serve", "--help"], stdout=subprocess.PIPE,
                                                stderr=subprocess.STDOUT, text=True, timeout=60).stdout
            self.api_port, self.pooler_port = free_port(), free_port()
            # Room for the console part's 100 branches plus the scratch servers of diffs and restores.
            self.port_range = free_port_range(300)
            if "--backup-target" in self.help_text:
                key = subprocess.run([self.binary_copy, "backup", "keygen"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, timeout=60)
                if key.returncode != 0 or not key.stdout.strip():
                    raise BenchError(f"`branch backup keygen` failed: {key.stderr.strip()}")
                descriptor = os.open(self.backup_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                with os.fdopen(descriptor, "w") as handle:
                    handle.write(key.stdout.strip() + "\n")
                os.chmod(self.backup_key, 0o600)
                os.makedirs(self.backup_dir, mode=0o700, exist_ok=True)
        runtime = runtime if runtime is not None else self.runtime
        first_port, last_port = self.port_range
        args = [
            "serve", "--pool", self.pool, "--pool-image", self.image, "--pool-size", self.pool_size,
            "--listen", f"127.0.0.1:{self.api_port}", "--pooler-port", str(self.pooler_port),
            "--port-range", f"{first_port}-{last_port}", "--db-listen", "127.0.0.1",
        ]
        if "--container-prefix" in self.help_text:
            # Containers are started with --replace: a prefix of our own keeps us off anyone else's.
            args += ["--container-prefix", CONTAINER_PREFIX]
        if runtime:
            if "--runtime" not in self.help_text:
                raise BenchError(f"runtime {runtime} is asked for but this branch binary has no --runtime option")
            args += ["--runtime", runtime]
        if metrics_interval:
            if "--metrics-interval" not in self.help_text:
                raise BenchError("this branch binary has no (hidden) --metrics-interval option; rebuild it")
            args += ["--metrics-interval", metrics_interval]
        if "--backup-target" in self.help_text:
            args += ["--backup-target", f"dir:{self.backup_dir}", "--backup-key-file", self.backup_key]
        if "--master-key-file" in self.help_text:
            # The bench's own, in its directory: the machine's /etc/branch is left alone.
            args += ["--master-key-file", os.path.join(self.dir, "master.key")]
        if "--tls " in self.help_text:
            # Plain HTTP on loopback, as the benchmarks' clients speak it (the TLS handshake is not measured).
            args += ["--tls", "off"]
        self.service_args = args
        self.base_url = f"http://127.0.0.1:{self.api_port}"
        log(f"starting branch serve (copy of {self.binary}, sha256 {self.binary_sha}) on {self.base_url}, pool {self.pool}"
            + (f", runtime {runtime}" if runtime else "") + (f", metrics every {metrics_interval}" if metrics_interval else ""))
        with open(self.serve_log, "ab") as log_file:
            # A session of its own: Ctrl-C reaches only us, and we stop it in order.
            self.service = subprocess.Popen(
                [self.binary_copy] + args, stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd="/", start_new_session=True)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if self.service.poll() is not None:
                raise BenchError(f"branch serve exited ({self.service.returncode}) during start-up:\n{self.log_tail()}")
            if self.healthy():
                break
            time.sleep(0.1)
        else:
            raise BenchError(f"branch serve did not answer within 300 s:\n{self.log_tail()}")
        self.service_config = (runtime, metrics_interval)
        with open(os.path.join(self.pool, "admin.key")) as handle:
            self.token = handle.read().strip()
        status, _ = self.api("GET", "/api/v1/status")
        self.status = status
        self.bindir = status["postgres"]["binDirectory"]
        details = status.get("runtimeDetails") or {}
        self.runtime_name = details.get("name") or status.get("runtime") or "unknown"
        self.runtime_notes = details.get("notes") or []
        self.services.append({"args": list(args), "runtime": self.runtime_name, "notes": list(self.runtime_notes),
                              "parts": list(parts)})
        log(f"service up: Postgres {status['postgres']['version']} ({self.bindir}), runtime {self.runtime_name}, "
            f"pool {status['pool']['mount']}")

    def stop_service(self):
        """SIGTERM: the service stops every branch server and the pooler; the pool stays mounted."""
        if not self.service or self.service.poll() is not None:
            self.service = None
            return
        log("stopping branch serve (SIGTERM)")
        self.service.send_signal(signal.SIGTERM)
        try:
            self.service.wait(timeout=300)
        except subprocess.TimeoutExpired:
            raise BenchError("branch serve did not stop within 300 s")
        self.service = None

    def ensure_service(self, part, runtime=None, metrics_interval=None):
        """The service as `part` needs it: restarted on the same pool when the runtime or the
        metrics interval differ from the running one's."""
        wanted = (runtime if runtime is not None else self.runtime, metrics_interval)
        if self.service and self.service.poll() is None and self.service_config == wanted:
            self.services[-1]["parts"].append(part)
            return
        self.stop_service()
        self.start_service(runtime=runtime, metrics_interval=metrics_interval, parts=[part])

    def log_tail(self, lines=40):
        try:
            with open(self.serve_log, errors="replace") as handle:
                return "".join(handle.readlines()[-lines:])
        except OSError:
            return "(no service log)"

    # ------------------------------------------------------------ the loaded projects, measurements

    def load_project(self, scale, settle=True):
        """Creates and loads the project at `scale`. With `settle`, a CHECKPOINT follows the load;
        without, the next operation is the first after the load (the branch part measures it)."""
        name = f"bench-s{scale}"
        created, elapsed = self.api("POST", "/api/v1/projects", {"name": name}, expect=(201,))
        project = created["project"]
        main, _ = self.api("GET", f"/api/v1/projects/{name}/branches/main")
        direct, _ = self.api("GET", f"/api/v1/projects/{name}/branches/main/connection")
        info = {"name": name, "database": project["database"], "port": main["port"], "url": direct["url"]}
        log(f"scale {scale}: project {name} created in {elapsed:.0f} ms; pgbench -i -s {scale} (this takes a while)")
        started = time.perf_counter()
        # Default init steps (drop, tables, generate, vacuum, primary keys): the vacuum leaves the
        # tables settled, so autovacuum does not rewrite them in the middle of the measurements.
        self.run([self.tool("pgbench"), "-i", "-q", "-s", str(scale), direct["url"]], timeout=6 * 3600, stream=True)
        load_seconds = time.perf_counter() - started
        if settle:
            self.su_sql(info["port"], "CHECKPOINT")
        size = int(self.su_sql(info["port"], f"select pg_database_size('{project['database']}')"))
        accounts = int(self.url_sql(direct["url"], "select count(*) from pgbench_branches"))
        if accounts != scale:
            raise BenchError(f"pgbench_branches holds {accounts} rows, expected {scale}")
        info.update(load_seconds=load_seconds, database_bytes=size)
        log(f"scale {scale}: loaded {fmt_bytes(size)} in {load_seconds:.0f} s")
        return info

    def project(self, scale, settle=True):
        """The project loaded at `scale`, loaded now if no earlier part did (then `info["fresh"]`:
        nothing ran on it since the load)."""
        if scale not in self.projects:
            entry = self.results["scales"].setdefault(scale, {"scale": scale})
            info = self.load_project(scale, settle=settle)
            info["fresh"] = True
            entry["data"] = {key: info[key] for key in ("database_bytes", "load_seconds")}
            self.projects[scale] = info
        return self.projects[scale]

    def drop_project(self, scale):
        """Frees the space of a loaded project (the project may not exist if its creation failed)."""
        self.projects.pop(scale, None)
        try:
            self.api("DELETE", f"/api/v1/projects/bench-s{scale}?force=true", expect=(200, 404))
        except Exception as error:  # noqa: BLE001
            log(f"could not delete project bench-s{scale}: {error}")

    def failed(self, message, during=None):
        """Records a failed measurement (in the document and the exit status); with `during`, what
        was running, raises when the service is no longer running: nothing after it can be measured."""
        log("FAILED " + message)
        self.errors.append(message)
        if during and (not self.service or self.service.poll() is not None):
            raise BenchError(f"branch serve is not running after {during}:\n{self.log_tail()}")

    def section(self, label, target, key, function, *args):
        """Runs one measurement; a failure is recorded and the others still run."""
        try:
            target[key] = function(*args)
        except Exception as error:  # noqa: BLE001 - reported in the document and the exit status
            target[key] = {"error": str(error)}
            self.failed(f"{label}: {error}", during=label)

    # ------------------------------------------------------------ full copies (pg_basebackup) on the pool

    def allow_replication(self, info):
        """pg_basebackup needs a replication entry in pg_hba.conf. Branch's has one for postgres over
        the socket since per-port socket directories; older builds had none (their `all` does not
        cover replication): then it is added to main for the measurement and taken out right after."""
        hba = os.path.join(self.pool, "projects", info["name"], "branches", "main", "pgdata", "pg_hba.conf")
        with open(hba) as handle:
            original = handle.read()
        if re.search(r"^local\s+replication\s+postgres\s+trust", original, re.MULTILINE):
            self.hba_added = False
            return
        self.hba_added = True
        self.hba_restore = (hba, original, info["port"])
        with open(hba, "a") as handle:
            handle.write("\n# added by scripts/bench.py for pg_basebackup; removed when it is done\n"
                         "local   replication   postgres   trust\n")
        self.su_sql(info["port"], "select pg_reload_conf()")

    def restore_hba(self):
        if not self.hba_restore:
            return
        path, original, port = self.hba_restore
        self.hba_restore = None
        with open(path, "w") as handle:
            handle.write(original)
        self.su_sql(port, "select pg_reload_conf()", check=False)

    def prepare_copy_dirs(self):
        postgres = pwd.getpwnam("postgres")
        for path in (self.copies_dir, self.copy_socket_dir):
            os.makedirs(path, mode=0o700, exist_ok=True)
            os.chown(path, postgres.pw_uid, postgres.pw_gid)
            os.chmod(path, 0o700)

    def stop_copy(self, data_dir):
        if os.path.exists(os.path.join(data_dir, "postmaster.pid")):
            self.run([self.tool("pg_ctl"), "stop", "-D", data_dir, "-m", "immediate", "-w", "-t", "60"],
                     as_postgres=True, check=False, timeout=120)
        shutil.rmtree(data_dir, ignore_errors=True)

    # ------------------------------------------------------------ clean-up

    def cleanup(self):
        if self.cleaning:
            return
        self.cleaning = True
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN)  # finish the clean-up whatever happens
        log("cleaning up")
        try:
            self.restore_hba()
        except Exception as error:  # noqa: BLE001
            log(f"  could not restore pg_hba.conf: {error}")
        if self.bindir and os.path.isdir(self.copies_dir):
            for name in os.listdir(self.copies_dir):
                path = os.path.join(self.copies_dir, name)
                if os.path.isdir(path):
                    try:
                        self.stop_copy(path)
                    except Exception:  # noqa: BLE001
                        pass
        if self.service and self.service.poll() is None:
            log("  stopping branch serve (SIGTERM; it stops every branch server)")
            self.service.send_signal(signal.SIGTERM)
            try:
                self.service.wait(timeout=300)
            except subprocess.TimeoutExpired:
                log("  branch serve did not stop within 300 s; killing it")
                self.service.kill()
                self.service.wait()
        self.service = None
        # A service stopped cleanly took its port range out of the kernel's reserved ports; one
        # that was killed did not: put the setting back as it was before the run.
        if self.reserved_ports is not None:
            try:
                with open(RESERVED_PORTS, "w") as handle:
                    handle.write(self.reserved_ports)
            except OSError:
                pass
        self.remove_containers()
        leftovers = processes_under(self.dir)
        if leftovers:
            log(f"  killing leftover processes {leftovers}")
            for pid in leftovers:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            deadline = time.monotonic() + 20
            while processes_under(self.dir) and time.monotonic() < deadline:
                time.sleep(0.1)
        if is_mounted(self.pool):
            for attempt in range(10):
                if subprocess.run(["umount", self.pool], stderr=subprocess.DEVNULL).returncode == 0:
                    break
                time.sleep(0.5)
            else:
                log("  umount failed; detaching lazily")
                subprocess.run(["umount", "-l", self.pool])
        if os.path.exists(self.image):
            loops = subprocess.run(["losetup", "-j", self.image], stdout=subprocess.PIPE, text=True).stdout
            for line in loops.splitlines():
                device = line.split(":", 1)[0]
                subprocess.run(["losetup", "-d", device], stderr=subprocess.DEVNULL)
        if os.path.exists(self.dir) and not is_mounted(self.pool):
            shutil.rmtree(self.dir, ignore_errors=True)
        if os.path.exists(self.dir):
            log(f"  WARNING: {self.dir} could not be removed completely")
        else:
            log(f"  removed {self.dir}")

    def remove_containers(self):
        """Containers of this pool's branch servers (a container runtime labels them with the pool)."""
        for engine in ("podman", "docker"):
            if not shutil.which(engine):
                continue
            try:
                listed = subprocess.run([engine, "ps", "-a", "-q", "--filter", f"label=branch.pool={self.pool}"],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=60)
                ids = listed.stdout.split() if listed.returncode == 0 else []
                if ids:
                    log(f"  removing {engine} containers {ids}")
                    subprocess.run([engine, "rm", "-f", "-t", "5"] + ids, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   timeout=180)
            except (OSError, subprocess.TimeoutExpired) as error:
                log(f"  could not list or remove {engine} containers: {error}")

    def verify_clean(self):
        left = processes_under(self.dir)
        containers = []
        if shutil.which("podman"):
            containers = subprocess.run(["podman", "ps", "-a", "-q", "--filter", f"label=branch.pool={self.pool}"],
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.split()
        if left or containers or is_mounted(self.pool) or os.path.exists(self.dir):
            message = (f"clean-up incomplete: processes {left}, containers {containers}, mounted {is_mounted(self.pool)}, "
                       f"directory exists {os.path.exists(self.dir)}")
            self.errors.append(message)
            log("WARNING: " + message)

    # ------------------------------------------------------------ machine facts

    def versions(self):
        def first_line(command):
            try:
                result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
            except (OSError, subprocess.TimeoutExpired):
                return None
            line = (result.stdout or "").strip().splitlines()
            return line[0].strip() if result.returncode == 0 and line else None

        found = {}
        if "containers" in self.parts or not self.runtime:
            found["podman"] = (first_line(["podman", "--version"]) or "").replace("podman version ", "") or None
        if "backup" in self.parts:
            found["pgbackrest"] = (first_line(["pgbackrest", "version"]) or "").replace("pgBackRest ", "") or None
            zstd = first_line(["zstd", "--version"]) or ""
            match = re.search(r"v(\d+\.\d+\.\d+)", zstd)
            found["zstd"] = match.group(1) if match else None
        found["btrfs-progs"] = ((first_line(["btrfs", "--version"]) or "").replace("btrfs-progs ", "") or None)
        found["pgbouncer"] = ((first_line(["pgbouncer", "--version"]) or "").replace("PgBouncer ", "").replace("pgbouncer ", "") or None)
        return found

    def machine(self):
        def first_match(path, pattern):
            try:
                with open(path) as handle:
                    for line in handle:
                        match = re.match(pattern, line)
                        if match:
                            return match.group(1).strip()
            except OSError:
                pass
            return None

        memory_kb = first_match("/proc/meminfo", r"MemTotal:\s+(\d+)")
        git = lambda *args: subprocess.run(["git", "-C", REPO] + list(args), stdout=subprocess.PIPE,
                                           stderr=subprocess.DEVNULL, text=True).stdout.strip()
        dirty = git("status", "--porcelain", "--", "Sources", "Package.swift", "Package.resolved")
        return {
            "cpu": first_match("/proc/cpuinfo", r"model name\s*:\s*(.*)") or platform.processor() or "unknown",
            "nproc": os.cpu_count(),
            "memory": int(memory_kb) * 1024 if memory_kb else None,
            "kernel": platform.release(),
            "os": first_match("/etc/os-release", r'PRETTY_NAME="?([^"\n]*)') or platform.platform(),
            "commit": git("rev-parse", "--short", "HEAD") or "unknown",
            "dirty": bool(dirty),
            "binary_mtime": datetime.datetime.fromtimestamp(os.path.getmtime(self.binary), datetime.timezone.utc),
        }
