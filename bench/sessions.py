#!/usr/bin/env python3
"""Fills Tessera's SQLite store with synthetic access sessions, for
bench/sessions.sh.

    sessions.py DB COUNT

Copies the newest live opaque access session in DB (one a real password
login made) COUNT times, the way the server writes a session
(crates/store/src/sessions.rs insert_session): every column as in that
row except `id` (32 lowercase hex: "be" and the index) and `token_hash`,
the SHA-256 of the token "tsa_" + the index as 43 decimal digits, which is
how the server maps a presented opaque token to its stored key
(crates/core/src/token.rs hash). bench/lua/tokens.lua presents those
tokens. One transaction; prints `inserted=N seconds=S`.
"""
import hashlib
import sqlite3
import sys
import time


def main():
    db, count = sys.argv[1], int(sys.argv[2])
    con = sqlite3.connect(db)
    con.execute("PRAGMA busy_timeout = 10000")
    con.execute("PRAGMA synchronous = OFF")
    cur = con.execute(
        "SELECT * FROM sessions WHERE kind = 'access' AND format = 'opaque' AND revoked_at IS NULL"
        " ORDER BY created_at DESC LIMIT 1"
    )
    cols = [d[0] for d in cur.description]
    template = cur.fetchone()
    if template is None:
        sys.exit("no live opaque access session to copy: log in once first")
    id_at, hash_at = cols.index("id"), cols.index("token_hash")
    sql = f"INSERT INTO sessions ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})"
    start = time.time()

    def rows():
        row = list(template)
        base = 0xBE << 120
        for i in range(count):
            row[id_at] = f"{base + i:032x}"
            row[hash_at] = hashlib.sha256(b"tsa_%043d" % i).digest()
            yield tuple(row)

    with con:
        con.executemany(sql, rows())
    con.close()
    print(f"inserted={count} seconds={time.time() - start:.1f}")


if __name__ == "__main__":
    main()
