#!/usr/bin/env python3
"""Write the shared corpus for results/schema.json and the strict reader.

usage: mutate.py OUTDIR SEED.json... [--also FILE...]

Each seed is a valid results file, cut down first to keep the corpus quick
to check: per kind of measurement (family, mode, skipped or not, PMU read or
not, guest page, alternative metrics, flags) one example, and two points of
each derived list.  Every member of the corpus is a cut-down seed itself or
one with one change at one place: a member removed, set to null, replaced
by a value of another type, made negative, zero or out of range, or an
unknown member added.  Host, config and timing are changed in the first
seed only; measurements two at a time (the two the document then holds),
each kind once over all seeds.  Files: OUTDIR/NNNNN.json, and OUTDIR/index.tsv with
"file<TAB>description".

Files after --also (e.g. fuzz regressions) join the corpus as they are.

The schema and the reader must give the same verdict on every member
(ci/bats/schema.bats); which verdict is right is the schema's to say.
"""
import copy
import json
import os
import sys

# By the type of the value replaced: a different type, null, and the edges.
NUMBER = [("null", None), ("a string", "x"), ("true", True), ("a negative number", -1), ("zero", 0),
          ("a fraction", 0.5), ("1e308", 1e308), ("5e-324", 5e-324)]
STRING = [("null", None), ("an empty string", ""), ("an integer", 7), ("an unknown word", "zz-unknown"),
          ("4097 characters", "x" * 4097), ("4096 two-byte characters", "\u00e9" * 4096)]
OTHER = [("null", None), ("a string", "x"), ("an integer", 7), ("an empty array", []), ("an empty object", {})]


def replacements(value):
    if isinstance(value, bool):
        return [("null", None), ("an integer", 1), ("a string", "true")]
    if isinstance(value, (int, float)):
        return NUMBER
    if isinstance(value, str):
        return STRING
    return OTHER


def kind(m):
    pmu = m.get("pmu")
    return (m.get("family"), m.get("mode"), m.get("skipped") is None,
            bool(isinstance(pmu, dict) and pmu.get("available")), "guest_page" in m, "alt_metrics" in m,
            bool(m.get("flags")))


def cut_down(seed):
    """One measurement of each kind, two points of each derived list."""
    seen, ms = set(), []
    for m in seed["measurements"]:
        if kind(m) not in seen:
            seen.add(kind(m))
            ms.append(m)
    seed = dict(seed, measurements=ms)
    if isinstance(seed.get("derived"), dict):
        seed["derived"] = {k: v[:2] if isinstance(v, list) else v for k, v in seed["derived"].items()}
    return seed


def paths(node, prefix=()):
    """Every (path, value) below node; arrays: the first two elements."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield prefix + (k,), v
            yield from paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node[:2]):
            yield prefix + (i,), v
            yield from paths(v, prefix + (i,))


def parent_of(doc, path):
    node = doc
    for p in path[:-1]:
        node = node[p]
    return node


def name(path):
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


def shape(doc, path, value):
    """Where a change lands, without array positions: a change already made
    at the same shape (in the same kind of measurement) is not made again."""
    ctx = ()
    if path[0] == "measurements" and len(path) > 1:
        m = doc["measurements"][path[1]]
        ctx = (m.get("mode"), m.get("skipped") is None, m.get("family"))
    return tuple(p for p in path if isinstance(p, str)), type(value).__name__, ctx


def mutations(seed, under, done):
    for path, value in paths(seed):
        if under is not None and path[:len(under)] != under:
            continue
        key = shape(seed, path, value)
        if key in done:
            continue
        done.add(key)
        if isinstance(path[-1], str):
            d = copy.deepcopy(seed)
            del parent_of(d, path)[path[-1]]
            yield f"{name(path)} removed", d
        for what, new in replacements(value):
            if type(new) is type(value) and new == value:
                continue
            d = copy.deepcopy(seed)
            parent_of(d, path)[path[-1]] = copy.deepcopy(new)
            yield f"{name(path)} set to {what}", d
        if isinstance(value, dict):
            d = copy.deepcopy(seed)
            parent_of(d, path)[path[-1]]["zz_unknown"] = 1
            yield f"{name(path)} with an unknown member", d


def members(seed, first, kinds_done, done):
    seed = cut_down(seed)
    yield "cut down", seed
    if first:
        for top in seed:
            if top != "measurements":
                yield from mutations(seed, (top,), done)
        d = copy.deepcopy(seed)
        d["zz_unknown"] = 1
        yield "an unknown top-level member", d
    # Each kind of measurement not changed in an earlier seed at the front
    # once: paths() visits the first two.
    ms = [m for m in seed["measurements"] if kind(m) not in kinds_done]
    kinds_done.update(kind(m) for m in ms)
    for i in range(0, len(ms), 2):
        s = dict(seed, measurements=ms[i:i + 2])
        for what, d in mutations(s, ("measurements",), done):
            yield f"(measurements rotated by {i}) {what}", d


def main():
    out = sys.argv[1]
    args = sys.argv[2:]
    also = args[args.index("--also") + 1:] if "--also" in args else []
    seeds = args[:args.index("--also")] if "--also" in args else args
    os.makedirs(out, exist_ok=True)
    n = 0
    kinds_done, done = set(), set()
    with open(os.path.join(out, "index.tsv"), "w") as index:
        def put(text, what):
            nonlocal n
            fn = f"{n:05d}.json"
            with open(os.path.join(out, fn), "w") as f:
                f.write(text)
            index.write(f"{fn}\t{what}\n")
            n += 1
        for seed_path in seeds:
            with open(seed_path) as f:
                text = f.read()
            seed = json.loads(text)
            put(text, f"{os.path.basename(seed_path)}: seed as it is")
            for what, doc in members(seed, not done, kinds_done, done):
                put(json.dumps(doc), f"{os.path.basename(seed_path)}: {what}")
        for path in also:
            with open(path) as f:
                put(f.read(), f"{os.path.basename(path)}: as it is")
    print(n)


if __name__ == "__main__":
    main()
