#!/usr/bin/env python3
"""Writes N contacts into a fresh Parley store before the app starts.

The schema is the store's own: the MIGRATIONS list read from
crates/store/src/db/mod.rs, with user_version = number of migrations as
the store expects (parley-cli has no contact import). Contact i is named
"Contact <i>" with SIP address sip:<prefix><i>@127.0.0.1, <i> zero-padded
to WIDTH digits, presence on.

    parley_contacts.py ROOT DB N PREFIX [WIDTH]
"""
import re
import sqlite3
import sys

root, db, n, prefix = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
width = int(sys.argv[5]) if len(sys.argv) > 5 else 3
text = open(f"{root}/crates/store/src/db/mod.rs").read()
block = text[text.index("const MIGRATIONS: &[&str] = &["):]
block = block[: block.index("\n];")]
scripts = re.findall(r'^\s*"(.*?)",\s*$', block, re.S | re.M)
c = sqlite3.connect(db)
for s in scripts:
    c.executescript(s)
c.execute(f"PRAGMA user_version = {len(scripts)}")
c.executemany(
    "INSERT INTO contacts (name, sip_uri, favourite, presence, blf) VALUES (?, ?, 0, 1, 0)",
    [(f"Contact {i:0{width}d}", f"sip:{prefix}{i:0{width}d}@127.0.0.1") for i in range(1, n + 1)],
)
c.commit()
print(len(scripts), "migrations,", n, "contacts", file=sys.stderr)
