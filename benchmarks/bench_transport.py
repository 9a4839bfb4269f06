"""Client CPU per request of async HTTP client layers, against a real pi-emulator process.

The workload is pisync's bulk read: ``GET /pi/api/v2/users/syncPayload?usercode=X`` for N
seeded users, C requests in flight (C worker tasks pulling from one shared iterator), every
response checked (status 200, a one-element array naming the user asked for).

Each measured run is a fresh Python process (``--worker VARIANT``), so no variant inherits
another's imports, caches or heap. Inside it: import, sign in (``POST /tokens``), a warm-up
of a few requests per connection (opens the C connections; not counted), then the timed
section: ``time.process_time()`` (user + system CPU of the client process, all threads) and
``time.perf_counter()`` around the N requests. The emulator's own CPU for the same section
(``EmulatorProcess.cpu_seconds()``, /proc clock ticks) is reported beside it, because
client and server share the machine's cores.

Variants run ``--rounds`` times, the order reversed every other round; the table shows
medians, and ``ratio`` is the client CPU per request against ``httpx`` (variant 1) from this
same invocation.

    python bench_transport.py --requests 4000 --concurrency 16 --latency-ms 20 --rounds 3
    python bench_transport.py --variants httpx,aiohttp-min --rounds 5 --json out.json
    python bench_transport.py --decode-only          # JSON decode cost alone, no server
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import growth
from workload import Workload, seed_document

# Variant name -> what it is. Order = default run order; the first is the ratio baseline.
VARIANTS: dict[str, str] = {
    "httpx": "1  httpx.AsyncClient, default transport, params=, response.json()",
    "httpx-aiohttp": "2  httpx.AsyncClient(transport=AiohttpTransport(limits=)), response.json()",
    "aiohttp": "3  aiohttp.ClientSession, TCPConnector(limit=C), params=, read() + json.loads",
    "aiohttp-orjson": "4a aiohttp as 3, orjson.loads",
    "aiohttp-msgspec": "4b aiohttp as 3, msgspec.json.Decoder().decode",
    "httpx-min": "5a httpx, full URL string per request, orjson.loads(response.content)",
    "httpx-aiohttp-min": "5b httpx-aiohttp as 5a",
    "aiohttp-min": "5c aiohttp, yarl.URL(encoded=True), skip_auto_headers, msgspec decode",
    "aiohttp-uvloop": "6a aiohttp as 3, on uvloop's event loop",
    "pisync": "7a pisync's own Transport + PiApi.sync_payload (retries, limits, checks)",
    "pisync-uvloop": "7b pisync as 7a, on uvloop's event loop",
}
BASELINE = "httpx"
# the optional libraries a variant needs (pisync depends on none of them)
NEEDS: dict[str, tuple[str, ...]] = {
    "httpx-aiohttp": ("httpx_aiohttp",),
    "httpx-aiohttp-min": ("httpx_aiohttp",),
    "aiohttp-msgspec": ("msgspec",),
    "aiohttp-min": ("msgspec",),
}


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


LIBRARIES = (
    "httpx",
    "httpcore",
    "h11",
    "anyio",
    "httpx-aiohttp",
    "aiohttp",
    "multidict",
    "yarl",
    "propcache",
    "orjson",
    "msgspec",
    "uvicorn",
    "starlette",
)


# --- the seed ---------------------------------------------------------------------------


def usercode(i: int) -> str:
    return f"U{i:06d}"


def build_seed(users: int) -> dict[str, Any]:
    """The shared generator's organisation of ``users`` users, every one on the server."""
    return seed_document(Workload(users=users, changed=0.0))


# --- the worker (one measured run, in its own process) ---------------------------------


def check(body: Any, code: str) -> None:
    if not (isinstance(body, list) and len(body) == 1 and body[0]["user"]["usercode"] == code):
        raise AssertionError(f"unexpected syncPayload body for {code}: {str(body)[:200]}")


async def _drive(fetch: Callable[[str], Any], codes: list[str], concurrency: int) -> None:
    import asyncio

    it = iter(codes)

    async def worker() -> None:
        for code in it:
            check(await fetch(code), code)

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def _run_variant(
    variant: str, api: str, codes: list[str], warm: list[str], concurrency: int
) -> dict[str, float]:
    """Sign in, warm up, then time ``codes``. Returns the timed section's numbers."""
    import base64

    login_headers = {"Authorization": "Basic " + base64.b64encode(b"admin:dashboard").decode()}
    path = api + "/users/syncPayload"

    if variant == "pisync":
        from reconciler.pi.operations import PiApi
        from reconciler.shell.server.transport import Transport
        from reconciler.shell.settings import Credentials

        transport_ = Transport(
            api, Credentials(username="admin", password="dashboard"), concurrency=concurrency
        )
        async with transport_:
            pi = PiApi(transport_.send)
            await transport_.ensure_token()
            return await _timed(
                lambda code: _as_list(pi.sync_payload(code)), codes, warm, concurrency
            )

    if variant.startswith("httpx"):
        import httpx

        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        timeout = httpx.Timeout(30.0, connect=5.0, pool=None)
        transport: httpx.AsyncBaseTransport | None = None
        if variant.startswith("httpx-aiohttp"):
            from httpx_aiohttp import AiohttpTransport

            # The connection limit must go to the transport: httpx.AsyncClient ignores its own
            # `limits=` when `transport=` is given. AiohttpTransport maps
            # limits.max_connections -> TCPConnector(limit=...) (max_keepalive_connections is
            # not used) and limits.keepalive_expiry -> keepalive_timeout.
            transport = AiohttpTransport(limits=limits)
        client = httpx.AsyncClient(
            limits=limits,
            timeout=timeout,
            transport=transport,
            headers={"Accept": "application/json"},
        )
        async with client:
            signed = await client.post(api + "/tokens", headers=login_headers)
            signed.raise_for_status()
            client.headers["Authorization"] = f"Bearer {signed.json()['token']}"

            if variant.endswith("-min"):
                import orjson

                async def fetch(code: str) -> Any:
                    resp = await client.get(f"{path}?usercode={code}")
                    if resp.status_code != 200:
                        raise AssertionError(f"HTTP {resp.status_code}")
                    return orjson.loads(resp.content)
            else:

                async def fetch(code: str) -> Any:
                    resp = await client.get(path, params={"usercode": code})
                    if resp.status_code != 200:
                        raise AssertionError(f"HTTP {resp.status_code}")
                    return resp.json()

            return await _timed(fetch, codes, warm, concurrency)

    import aiohttp
    import yarl

    connector = aiohttp.TCPConnector(limit=concurrency)
    session = aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=30.0, sock_connect=5.0),
        cookie_jar=aiohttp.DummyCookieJar(),
        headers={"Accept": "application/json"},
        skip_auto_headers=("User-Agent", "Accept-Encoding") if variant == "aiohttp-min" else (),
        raise_for_status=False,
    )
    async with session:
        async with session.post(api + "/tokens", headers=login_headers) as r:
            r.raise_for_status()
            token = (await r.json())["token"]
        session.headers["Authorization"] = f"Bearer {token}"

        if variant == "aiohttp-min":
            import msgspec

            decode = msgspec.json.Decoder().decode
            prefix = f"{path}?usercode="  # usercodes are A-Z a-z 0-9 . _ @ -: nothing to quote

            async def fetch(code: str) -> Any:
                async with session.get(yarl.URL(prefix + code, encoded=True)) as resp:
                    body = await resp.read()
                    if resp.status != 200:
                        raise AssertionError(f"HTTP {resp.status}")
                return decode(body)
        else:
            if variant == "aiohttp-orjson":
                import orjson

                loads: Callable[[bytes], Any] = orjson.loads
            elif variant == "aiohttp-msgspec":
                import msgspec

                loads = msgspec.json.Decoder().decode
            else:
                loads = json.loads

            async def fetch(code: str) -> Any:
                async with session.get(path, params={"usercode": code}) as resp:
                    body = await resp.read()
                    if resp.status != 200:
                        raise AssertionError(f"HTTP {resp.status}")
                return loads(body)

        return await _timed(fetch, codes, warm, concurrency)


async def _as_list(element: Any) -> list[Any]:
    """PiApi.sync_payload returns the element; ``check`` wants the body around it."""
    return [await element]


async def _timed(
    fetch: Callable[[str], Any], codes: list[str], warm: list[str], concurrency: int
) -> dict[str, float]:
    await _drive(fetch, warm, concurrency)
    emu_pid = int(os.environ["BENCH_EMULATOR_PID"])
    emu0, busy0 = _proc_cpu(emu_pid), _machine_busy()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await _drive(fetch, codes, concurrency)
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    emu, busy = _proc_cpu(emu_pid) - emu0, _machine_busy() - busy0
    # CPU that neither this client nor the emulator used (other processes, steal): a run
    # with a lot of it shared the cores with something else and is less trustworthy
    return {"cpu_s": cpu, "wall_s": wall, "emu_cpu_s": emu, "other_cpu_s": busy - cpu - emu}


def _proc_cpu(pid: int) -> float:
    """User + system CPU of a process (Linux /proc), as EmulatorProcess.cpu_seconds()."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy() -> float:
    """Busy CPU seconds of the whole machine so far, steal included (Linux /proc/stat)."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def worker_main(args: argparse.Namespace) -> None:
    import asyncio

    cpu_start = time.process_time()
    codes = [usercode(i) for i in range(args.requests)]
    warm = [usercode(i % args.requests) for i in range(min(args.requests, 4 * args.concurrency))]
    variant = args.worker.removesuffix("-uvloop")
    run = _run_variant(variant, args.url, codes, warm, args.concurrency)
    if args.worker.endswith("-uvloop"):
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            result = runner.run(run)
    else:
        result = asyncio.run(run)
    result["startup_cpu_s"] = time.process_time() - cpu_start - result["cpu_s"]
    print(json.dumps(result))


# --- the driver ------------------------------------------------------------------------


def run_worker(variant: str, url: str, emu_pid: int, args: argparse.Namespace) -> dict[str, Any]:
    proc = subprocess.run(
        [
            sys.executable,
            os.path.abspath(__file__),
            "--worker",
            variant,
            "--url",
            url,
            "--requests",
            str(args.requests),
            "--concurrency",
            str(args.concurrency),
        ],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "BENCH_EMULATOR_PID": str(emu_pid)},
    )
    if proc.returncode != 0:
        raise SystemExit(f"variant {variant} failed:\n{proc.stderr[-3000:]}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "-"
    return out


def decode_bench(
    body: bytes, number: int = 20000, repeat: int = 9
) -> list[tuple[str, float, float]]:
    """(name, min, median) microseconds per decode of one payload body."""
    import timeit

    import orjson

    text = body.decode()
    cases: list[tuple[str, Callable[[], Any]]] = [
        ("json.loads(bytes)", lambda: json.loads(body)),
        ("json.loads(str)  (str already decoded)", lambda: json.loads(text)),
        ("json.loads(bytes.decode())", lambda: json.loads(body.decode())),
        ("orjson.loads(bytes)", lambda: orjson.loads(body)),
    ]
    try:  # msgspec is measured when installed; pisync does not depend on it
        import msgspec
    except ImportError:
        pass
    else:
        dec = msgspec.json.Decoder()
        cases.append(("msgspec.json.decode(bytes)", lambda: msgspec.json.decode(body)))
        cases.append(("msgspec Decoder().decode(bytes)", lambda: dec.decode(body)))
    assert all(fn() == cases[0][1]() for _, fn in cases)
    times: dict[str, list[float]] = {name: [] for name, _ in cases}
    for _ in range(repeat):  # interleaved, so a noisy moment hits every decoder alike
        for name, fn in cases:
            times[name].append(timeit.timeit(fn, number=number) / number * 1e6)
    return [(name, min(ts), statistics.median(ts)) for name, ts in times.items()]


def sample_body(url: str) -> bytes:
    import base64
    import urllib.request

    login = urllib.request.Request(
        url + "/tokens",
        method="POST",
        headers={"Authorization": "Basic " + base64.b64encode(b"admin:dashboard").decode()},
    )
    with urllib.request.urlopen(login) as r:
        token = json.load(r)["token"]
    req = urllib.request.Request(
        f"{url}/users/syncPayload?usercode={usercode(0)}",
        headers={"Authorization": f"Bearer {token}"},
    )
    with urllib.request.urlopen(req) as r:
        return bytes(r.read())


def print_decode(body: bytes) -> None:
    rows = decode_bench(body)
    base = rows[0][1]
    print(
        f"\nJSON decode of one syncPayload body ({len(body)} bytes), 9 interleaved "
        "repeats x 20,000 decodes; ratio of the minimum vs json.loads(bytes):"
    )
    print(f"  {'decoder':40} {'min us':>8} {'median us':>10} {'ratio':>6}")
    for name, best, med in rows:
        print(f"  {name:40} {best:8.2f} {med:10.2f} {best / base:6.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--requests", type=int, default=4000, help="timed requests per run (= users)")
    p.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    p.add_argument("--latency-ms", type=float, default=20.0, help="emulator --latency-ms")
    p.add_argument("--rounds", type=int, default=3, help="runs per variant (order alternates)")
    p.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help=f"comma-separated subset of: {', '.join(VARIANTS)}",
    )
    p.add_argument(
        "--max-other-cores",
        type=float,
        default=0.3,
        help="a run during which other processes used more than this many cores "
        "is run again (up to --retries times)",
    )
    p.add_argument("--retries", type=int, default=3, help="see --max-other-cores")
    p.add_argument("--json", type=Path, help="also write every run and the medians here")
    p.add_argument(
        "--decode-only",
        action="store_true",
        help="only the JSON decode micro-benchmark (starts an emulator for a body)",
    )
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--url", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker_main(args)
        return

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        p.error(f"unknown variant(s): {', '.join(unknown)}")
    if BASELINE not in variants:
        variants.insert(0, BASELINE)
    missing = [v for v in variants if not all(map(_importable, NEEDS.get(v, ())))]
    for v in missing:  # an optional library this machine does not have: said, not fatal
        print(f"skipped {v}: needs {', '.join(NEEDS[v])}, not installed")
    variants = [v for v in variants if v not in missing]

    from pi_emulator.process import EmulatorProcess

    vers = versions()
    print("versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()))
    print(f"machine: {platform.platform()}, {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="transport-bench-") as tmp:
        seed = build_seed(args.requests)
        emu_args = ["--latency-ms", f"{args.latency_ms:g}"]
        with EmulatorProcess.start(Path(tmp), seed=seed, args=emu_args, ready_timeout=120) as emu:
            body = sample_body(emu.url)
            print(
                f"emulator {emu.url} {' '.join(emu_args)}; {args.requests} users, "
                f"payload {len(body)} bytes; {args.requests} timed requests per run, "
                f"{args.concurrency} in flight, {args.rounds} rounds"
            )
            if args.decode_only:
                print_decode(body)
                return
            runs: dict[str, list[dict[str, Any]]] = {v: [] for v in variants}
            contended: list[dict[str, Any]] = []
            for rnd in range(args.rounds):
                order = variants if rnd % 2 == 0 else variants[::-1]
                for v in order:
                    for attempt in range(args.retries + 1):
                        res = run_worker(v, emu.url, emu.process.pid, args)
                        other = res["other_cpu_s"] / res["wall_s"]
                        if other <= args.max_other_cores or attempt == args.retries:
                            break
                        print(
                            f"  round {rnd + 1} {v:18} contended ({other:.2f} other cores), "
                            "run again",
                            flush=True,
                        )
                        contended.append({"variant": v, "round": rnd + 1, **res})
                    runs[v].append(res)
                    print(
                        f"  round {rnd + 1} {v:18} cpu {res['cpu_s'] * 1e3 / args.requests:6.3f}"
                        f" ms/req  wall {res['wall_s']:6.2f} s  emulator "
                        f"{res['emu_cpu_s'] * 1e3 / args.requests:6.3f} ms/req  other "
                        f"{res['other_cpu_s'] / res['wall_s']:5.2f} cores",
                        flush=True,
                    )
        print_table(runs, args)
        print_decode(body)
        # a timed request reads one user's payload: the growth table counts requests as users
        growth.record(
            "transport",
            args.requests,
            {f"{v} client CPU s": statistics.median(r["cpu_s"] for r in runs[v]) for v in runs},
        )
        print("\n" + growth.table("transport"))
        if args.json:
            args.json.write_text(
                json.dumps(
                    {
                        "args": {k: str(v) for k, v in vars(args).items()},
                        "versions": vers,
                        "payload_bytes": len(body),
                        "runs": runs,
                        "contended_runs": contended,
                    },
                    indent=2,
                )
            )


def print_table(runs: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    n = args.requests

    def med(v: str, key: str) -> float:
        return float(statistics.median(r[key] for r in runs[v]))

    base = med(BASELINE, "cpu_s")
    print(
        f"\nmedians of {args.rounds} runs; {n} requests, {args.concurrency} in flight, "
        f"latency {args.latency_ms:g} ms; ratio = client CPU/request vs {BASELINE}"
    )
    head = (
        f"{'variant':18} {'cpu ms/req':>10} {'min-max':>13} {'ratio':>6} {'wall s':>7} "
        f"{'req/s':>7} {'emu ms/req':>10} {'other cores':>11} {'startup ms':>10}"
    )
    print(head)
    print("-" * len(head))
    for v in runs:
        cpus = [r["cpu_s"] * 1e3 / n for r in runs[v]]
        wall = med(v, "wall_s")
        print(
            f"{v:18} {med(v, 'cpu_s') * 1e3 / n:10.3f} "
            f"{f'{min(cpus):.3f}-{max(cpus):.3f}':>13} {med(v, 'cpu_s') / base:6.2f} "
            f"{wall:7.2f} {n / wall:7.0f} {med(v, 'emu_cpu_s') * 1e3 / n:10.3f} "
            f"{statistics.median(r['other_cpu_s'] / r['wall_s'] for r in runs[v]):11.2f} "
            f"{med(v, 'startup_cpu_s') * 1e3:10.0f}"
        )
    print("\n" + "\n".join(f"  {v:18} {VARIANTS[v]}" for v in runs))
    print(
        "  other cores = CPU used by neither client nor emulator during the timed section "
        "(other processes, steal), in cores; near 0 = the run had the machine to itself"
    )
    print(
        "  startup ms = client CPU outside the timed section: imports, sign-in, warm-up "
        f"({min(n, 4 * args.concurrency)} requests)"
    )


if __name__ == "__main__":
    main()
