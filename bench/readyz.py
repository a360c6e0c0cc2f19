#!/usr/bin/env python3
"""Time from process start to a ready /readyz, for bench/coldstart.sh and
bench/sessions.sh.

    readyz.py PORT [--keep] -- COMMAND...

Starts COMMAND, then asks http://127.0.0.1:PORT/readyz in a tight loop (a
refused connection is retried after 0.5 ms) until it answers 200, and
prints `ms=<milliseconds from just before the spawn to the 200> pid=<pid>`.
Without --keep the process is then stopped (SIGTERM) and waited for; with
--keep it is left running. COMMAND's stdout is discarded (so a caller's
$(...) does not wait for it); its stderr is this script's. Gives up after 60 s (exit 1).
"""
import http.client
import signal
import subprocess
import sys
import time


def main():
    args = sys.argv[1:]
    port = int(args.pop(0))
    keep = False
    if args and args[0] == "--keep":
        keep = True
        args.pop(0)
    if not args or args.pop(0) != "--":
        sys.exit(__doc__)
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    while True:
        if time.perf_counter() - start > 60 or proc.poll() is not None:
            print("no ready /readyz (process exited or 60 s passed)", file=sys.stderr)
            if proc.poll() is None:
                proc.kill()
            sys.exit(1)
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/readyz")
            status = conn.getresponse().status
            conn.close()
            if status == 200:
                break
        except OSError:
            pass
        time.sleep(0.0005)
    ms = (time.perf_counter() - start) * 1000
    print(f"ms={ms:.1f} pid={proc.pid}", flush=True)
    if not keep:
        proc.send_signal(signal.SIGTERM)
        proc.wait()


if __name__ == "__main__":
    main()
