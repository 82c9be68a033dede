#!/usr/bin/env python3
"""Do results/schema.json and nestbench's strict reader agree on a corpus?

usage: agree.py NESTBENCH SCHEMA CORPUS_DIR

For every file of CORPUS_DIR/index.tsv (written by mutate.py): the schema's
verdict (python3-jsonschema, Draft 2020-12) and the reader's (`nestbench
compare F F` reads F strictly; exit 1 is a rejection).  The seeds (and their
cut-down forms) must be accepted by both.  Prints one line per disagreement
and exits 1 if there is any.
"""
import json
import os
import subprocess
import sys

import jsonschema


def main():
    nb, schema_path, corpus = sys.argv[1:4]
    with open(schema_path) as f:
        schema = json.load(f)
    cls = jsonschema.validators.validator_for(schema)
    validator = cls(schema, format_checker=cls.FORMAT_CHECKER)
    bad = 0
    total = 0
    with open(os.path.join(corpus, "index.tsv")) as index:
        for line in index:
            fn, what = line.rstrip("\n").split("\t", 1)
            path = os.path.join(corpus, fn)
            with open(path) as f:
                doc = json.load(f)
            errors = list(validator.iter_errors(doc))
            schema_ok = not errors
            r = subprocess.run([nb, "compare", path, path], capture_output=True, text=True, errors="replace")
            reader_ok = r.returncode != 1
            total += 1
            # The seeds are valid results files: both must accept them.
            if what.endswith(": seed as it is") or what.endswith(": cut down"):
                if not (schema_ok and reader_ok):
                    bad += 1
                    print(f"{fn} ({what}): a seed must be valid, but the schema "
                          f"{'accepts' if schema_ok else 'rejects'} and the reader "
                          f"{'accepts' if reader_ok else 'rejects'} it: "
                          f"{(errors[0].message if errors else r.stderr.strip())[:200]}")
                continue
            if schema_ok != reader_ok:
                bad += 1
                why = (r.stderr.strip() if not reader_ok else errors[0].message)[:200]
                print(f"{fn} ({what}): schema {'accepts' if schema_ok else 'rejects'}, "
                      f"reader {'accepts' if reader_ok else 'rejects'}: {why}")
    print(f"{total} files, {bad} disagreements")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
