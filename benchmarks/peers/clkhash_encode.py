"""Run inside the peers environment: encode an identifier extract with clkhash.

    python clkhash_encode.py EXTRACT.csv OUT.json

Reads the extract (the pprl contract's columns), builds one CLK per row with
`clkhash.clk.generate_clks` (all cores), and writes the CLKs as base64 JSON, as
`anonlink-client` would send them.
"""

import base64
import json
import sys

import pandas as pd
from clkhash import clk
from clkhash.schema import from_json_dict

FIELDS = ["forename", "middle_names", "surname", "dob", "sex", "postcode", "address"]
BITS_PER_TOKEN = {
    "forename": 25,
    "middle_names": 10,
    "surname": 25,
    "dob": 15,
    "sex": 5,
    "postcode": 15,
    "address": 10,
}


def feature(name: str) -> dict:
    return {
        "identifier": name,
        "format": {"type": "string", "encoding": "utf-8", "case": "mixed"},
        "hashing": {
            "comparison": {"type": "ngram", "n": 2, "positional": False},
            "strategy": {"bitsPerToken": BITS_PER_TOKEN[name]},
            "hash": {"type": "doubleHash"},
        },
    }


SCHEMA = {
    "version": 3,
    "clkConfig": {
        "l": 1024,
        "kdf": {
            "type": "HKDF",
            "hash": "SHA256",
            "keySize": 64,
            "salt": base64.b64encode(b"pprl benchmark salt").decode(),
            "info": base64.b64encode(b"pprl benchmark").decode(),
        },
    },
    "features": [feature(name) for name in FIELDS],
}


def main() -> None:
    extract, out = sys.argv[1], sys.argv[2]
    rows = pd.read_csv(extract, dtype=str, keep_default_na=False)[FIELDS].values.tolist()
    clks = clk.generate_clks(rows, from_json_dict(SCHEMA), "a secret shared by custodians")
    with open(out, "w") as f:
        json.dump({"clks": [base64.b64encode(c.tobytes()).decode() for c in clks]}, f)


if __name__ == "__main__":
    main()
